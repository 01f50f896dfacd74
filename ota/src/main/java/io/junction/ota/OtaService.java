package io.junction.ota;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;
import io.junction.core.RoutingPattern;
import io.junction.core.actor.Mailbox;
import io.junction.core.device.DeviceEvent;
import io.junction.core.device.DevicePublisher;
import io.junction.core.http.ApiException;
import io.junction.core.http.RouteTable;
import io.junction.core.hub.EventHub;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.ota.DeviceProtocol.Encoding;
import io.junction.ota.Rollout.DeviceState;
import io.junction.ota.Rollout.Entry;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The OTA actor: owns the package catalogue, the groups, the rollouts with every device's state and each device's
 * firmware version, and answers devices on their OTA topics. Device requests come from the raw stream (a tap hands
 * them to a bounded queue; when it overflows, the actor reads what it missed back from the stream), so a request
 * that was acknowledged is never lost. State is kept in {@code <data>/ota/state.json} with the stream offset it
 * covers: API changes are written before they are answered, device changes at most a second later, and on start the
 * requests after that offset are read again (their state changes applied, their answers not re-sent).
 */
public final class OtaService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(OtaService.class);

    static final String REQUEST_SUFFIX = "/ota/p";
    static final String TIMEOUT = "timeout: ";
    private static final int DEVICE_QUEUE = 4096;
    private static final int DRAIN_BATCH = 512;
    private static final int READ_PAGE = 1000;
    private static final int OFFER_RETRIES = 20;
    private static final long OFFER_RETRY_MILLIS = 250;
    private static final long SAVE_INTERVAL_MILLIS = 1000;
    private static final int FORMAT = 1;

    /** What the actor's mailbox carries. */
    private sealed interface Command permits Wake, Tick, Connected, Reoffer, HttpProgress, Ask {
    }

    /** Device requests wait in the queue (or in the stream, after an overflow). */
    private record Wake() implements Command {
    }

    /** Once a second: timeouts, automatic stage advances, the deferred state write. */
    private record Tick() implements Command {
    }

    /** A device connected: offer what is pending for it. */
    private record Connected(String uid) implements Command {
    }

    /** An offer reached no subscriber (the device had not subscribed yet): try again. */
    private record Reoffer(String uid, String rollout, int attempt) implements Command {
    }

    /** A device fetched image bytes over HTTP (?device=uid). */
    private record HttpProgress(String uid, String packageId, long end) implements Command {
    }

    /** An API request, run on the actor's thread so it sees and changes the state alone. */
    private record Ask(Supplier<Object> work, CompletableFuture<Object> done) implements Command {
    }

    private final OtaSettings settings;
    private final Clock clock;
    private final EventHub hub;
    private final MessageStream raw;
    private final DevicePublisher publisher;
    private final Path dir;
    private final Optional<Signer> signer;
    final ImageStore images;
    private final Mailbox<Command> mailbox;
    private final ScheduledExecutorService timer;
    private final SecureRandom random = new SecureRandom();

    // ---- actor state (the mailbox thread only) ----
    private final LinkedHashMap<String, OtaPackage> packages = new LinkedHashMap<>();
    private final LinkedHashMap<String, Rollout> rollouts = new LinkedHashMap<>();
    private final List<Rollout> order = new ArrayList<>();
    private final Map<String, DeviceRecord> devices = new LinkedHashMap<>();
    private final Groups groups;
    /** the raw-stream offset after the last request handled */
    private long nextOffset;
    /** requests before this offset were answered before a restart, or never will be: only their state is applied */
    private final long answerFrom;
    private boolean dirty;
    private long lastSave;

    // ---- shared with the tap (the stream's writer thread) and HTTP threads ----
    private final ArrayBlockingQueue<StreamEntry> deviceQueue = new ArrayBlockingQueue<>(DEVICE_QUEUE);
    private volatile boolean catchingUp;
    private volatile long missedFrom;
    private volatile long tapSeen;
    private final AtomicBoolean wakeQueued = new AtomicBoolean();
    /** the catalogue as HTTP downloads see it, replaced by the actor on every change */
    private volatile Map<String, OtaPackage> packageView = Map.of();
    private final ConcurrentHashMap<String, String> firmware = new ConcurrentHashMap<>();

    private MessageStream.Tap tap;
    private EventHub.Subscription connections;

    // ---- metrics ----
    private final Map<String, Counter> requests = new ConcurrentHashMap<>();
    private final Counter rejected;
    private final Counter offers;
    private final Counter chunks;
    private final Counter chunkBytes;
    final Counter httpBytes;
    private final Counter overflows;
    private final Map<DeviceState, Counter> transitions = new EnumMap<>(DeviceState.class);
    private final MeterRegistry metrics;

    private OtaService(Builder b) throws IOException {
        this.settings = b.settings;
        this.clock = b.clock;
        this.hub = b.hub;
        this.raw = b.raw;
        this.publisher = b.publisher;
        this.dir = b.dir;
        this.signer = b.signer;
        this.metrics = b.metrics;
        this.groups = new Groups(settings.groups());
        Files.createDirectories(dir);
        this.images = new ImageStore(dir.resolve("images"), settings.imageCacheBytes());
        this.rejected = Counter.builder("junction.ota.rejected").description("OTA device requests that were not understood").register(metrics);
        this.offers = Counter.builder("junction.ota.offers").description("OTA offers sent to devices").register(metrics);
        this.chunks = Counter.builder("junction.ota.chunks").description("Image chunks sent over MQTT").register(metrics);
        this.chunkBytes = Counter.builder("junction.ota.chunk.bytes").description("Image bytes sent over MQTT").register(metrics);
        this.httpBytes = Counter.builder("junction.ota.http.bytes").description("Image bytes sent over HTTP").register(metrics);
        this.overflows = Counter.builder("junction.ota.catchups").description("Times the OTA request queue overflowed and requests were read back from the raw stream").register(metrics);
        for (DeviceState s : DeviceState.values()) {
            transitions.put(s, Counter.builder("junction.ota.transitions").tag("state", s.word())
                    .description("Devices that entered each OTA state").register(metrics));
        }
        for (String type : List.of("check", "download", "progress", "done", "failed")) {
            requests.put(type, Counter.builder("junction.ota.requests").tag("type", type)
                    .description("OTA device requests, by type").register(metrics));
        }
        long end = raw.endOffset();
        this.answerFrom = end;
        this.nextOffset = load(end);
        this.tapSeen = end - 1;
        this.mailbox = new Mailbox<>("ota", 1024);
        this.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name("ota-timer").factory());
    }

    public static Builder builder() {
        return new Builder();
    }

    private OtaService begin() {
        publishView();
        // Read what came in while we were down before taking live requests: the tap queues nothing until then.
        missedFrom = nextOffset;
        catchingUp = true;
        mailbox.start(this::handle);
        tap = raw.tap(this::onEntry);
        connections = hub.subscribe(RoutingPattern.of("device.connected"), 4096, e -> {
            if (e instanceof DeviceEvent d && d.connected()) {
                mailbox.offer(new Connected(d.uid()));
            }
        });
        wake();
        timer.scheduleAtFixedRate(() -> mailbox.offer(new Tick()), 1, 1, TimeUnit.SECONDS);
        log.info("ota started packages={} rollouts={} devices={} signing={} from_offset={}", packages.size(), rollouts.size(),
                devices.size(), signer.isPresent(), nextOffset);
        return this;
    }

    /** Adds the OTA routes: packages, images, rollouts, groups and links, devices, the signing key. */
    public void register(RouteTable routes) {
        new OtaRoutes(this).register(routes);
    }

    /**
     * What the OTA service adds to a device's record: {@code {"firmwareVersion": "1.2.3"}} when the device said which
     * version it runs (or installed one), else nothing. Safe to call from any thread.
     */
    public Map<String, Object> deviceFacts(String uid) {
        String v = firmware.get(uid);
        return v == null ? Map.of() : Map.of("firmwareVersion", v);
    }

    @Override
    public void close() {
        timer.shutdownNow();
        if (tap != null) {
            tap.close();
        }
        if (connections != null) {
            connections.close();
        }
        try {
            ask(() -> {
                save();
                return null;
            }, 5);
        } catch (RuntimeException e) {
            log.warn("ota: the state could not be written on close: {}", e.toString());
        }
        List<Command> left = mailbox.close(5_000);
        for (Command c : left) {
            if (c instanceof Ask a) {
                a.done().completeExceptionally(new ApiException(503, "service unavailable", "the server is shutting down"));
            }
        }
        log.info("ota stopped");
    }

    // ---- called from other threads ----

    /** Runs {@code work} on the actor thread and waits for its result; its ApiException reaches the caller as is. */
    @SuppressWarnings("unchecked")
    <T> T ask(Supplier<T> work, int timeoutSeconds) {
        CompletableFuture<Object> f = new CompletableFuture<>();
        mailbox.send(new Ask((Supplier<Object>) work, f));
        try {
            return (T) f.get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (ExecutionException | CompletionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(c);
        } catch (TimeoutException e) {
            throw new ApiException(503, "service unavailable", "the OTA service did not answer within " + timeoutSeconds + " s; try again");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    <T> T ask(Supplier<T> work) {
        return ask(work, 30);
    }

    Optional<OtaPackage> packageView(String id) {
        return Optional.ofNullable(packageView.get(id));
    }

    java.util.Collection<OtaPackage> packageViews() {
        return packageView.values();
    }

    Optional<Signer> signer() {
        return signer;
    }

    OtaSettings settings() {
        return settings;
    }

    long now() {
        return clock.millis();
    }

    /** Advisory: a full mailbox drops it, the download itself goes on. */
    void httpProgress(String uid, String packageId, long end) {
        mailbox.offer(new HttpProgress(uid, packageId, end));
    }

    String newId() {
        byte[] b = new byte[6];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** On the stream's writer thread: must not block. */
    private void onEntry(StreamEntry e) {
        String topic = e.message().topic();
        if (!catchingUp && isRequest(topic)) {
            if (!deviceQueue.offer(e)) {
                missedFrom = e.offset();
                catchingUp = true;
                overflows.increment();
            }
            wake();
        }
        tapSeen = e.offset();
    }

    private static boolean isRequest(String topic) {
        return topic.endsWith(REQUEST_SUFFIX) && topic.length() > REQUEST_SUFFIX.length()
                && topic.indexOf('/') == topic.length() - REQUEST_SUFFIX.length();
    }

    private void wake() {
        if (wakeQueued.compareAndSet(false, true) && !mailbox.offer(new Wake())) {
            wakeQueued.set(false);   // the mailbox is full, so the actor is busy; the next Tick drains
        }
    }

    // ---- the actor ----

    private void handle(Command c) {
        switch (c) {
            case Wake w -> drain();
            case Tick t -> tick();
            case Connected x -> {
                if (governing(x.uid()) != null) {
                    check(device(x.uid()), true, true);
                }
            }
            case Reoffer x -> reoffer(x);
            case HttpProgress x -> progress(x.uid(), Optional.of(x.packageId()), x.end());
            case Ask a -> {
                try {
                    a.done().complete(a.work().get());
                } catch (RuntimeException e) {
                    a.done().completeExceptionally(e);
                }
            }
        }
    }

    private void drain() {
        wakeQueued.set(false);
        for (int i = 0; i < DRAIN_BATCH; i++) {
            StreamEntry e = deviceQueue.poll();
            if (e == null) {
                break;
            }
            process(e);
        }
        if (!deviceQueue.isEmpty()) {
            wake();
        } else if (catchingUp) {
            catchUp();
        }
    }

    /**
     * Reads the requests the queue could not take from the stream itself, then goes back to the live queue. Every
     * request older than the overflow was queued before it, so the queue is empty here and order is kept.
     */
    private void catchUp() {
        long from = Math.max(missedFrom, nextOffset);
        from = readFrom(from);
        catchingUp = false;
        // Requests that came while the flag was still set are in the stream: one more pass; the queue's copies of
        // anything read twice are skipped by offset.
        readFrom(from);
    }

    private long readFrom(long from) {
        while (true) {
            List<StreamEntry> page = raw.read(from, READ_PAGE);
            if (page.isEmpty()) {
                return from;
            }
            for (StreamEntry e : page) {
                if (isRequest(e.message().topic())) {
                    process(e);
                }
            }
            from = page.getLast().offset() + 1;
        }
    }

    private void process(StreamEntry entry) {
        if (entry.offset() < nextOffset) {
            return;
        }
        nextOffset = entry.offset() + 1;
        dirty = true;
        boolean answer = entry.offset() >= answerFrom;
        String topic = entry.message().topic();
        String uid = topic.substring(0, topic.length() - REQUEST_SUFFIX.length());
        DeviceProtocol.Decoded d = DeviceProtocol.decode(entry.message().body());
        if (d.request().isEmpty()) {
            rejected.increment();
            log.debug("ota: bad request from device={} offset={}: {}", uid, entry.offset(), d.problem());
            if (answer && d.encoding() == Encoding.JSON) {
                publish(uid + "/ota/s", DeviceProtocol.error(d.problem()));
            }
            return;
        }
        long now = clock.millis();
        DeviceRecord dev = device(uid);
        dev.encoding = d.encoding();
        dev.seenAt = now;
        switch (d.request().get()) {
            case DeviceProtocol.Check x -> {
                requests.get("check").increment();
                x.version().ifPresent(v -> setVersion(dev, v, now));
                check(dev, false, answer);
            }
            case DeviceProtocol.Download x -> {
                requests.get("download").increment();
                download(dev, x, answer);
            }
            case DeviceProtocol.Progress x -> {
                requests.get("progress").increment();
                progress(uid, x.id(), x.bytes());
            }
            case DeviceProtocol.Done x -> {
                requests.get("done").increment();
                done(dev, x);
            }
            case DeviceProtocol.Failed x -> {
                requests.get("failed").increment();
                locate(uid, x.id()).ifPresent(r -> set(r, r.entries.get(uid), DeviceState.FAILED, x.reason()));
            }
        }
    }

    private DeviceRecord device(String uid) {
        return devices.computeIfAbsent(uid, DeviceRecord::new);
    }

    private void setVersion(DeviceRecord dev, PackageVersion v, long now) {
        dev.version(v, now);
        firmware.put(dev.uid, v.toString());
        dirty = true;
    }

    /** The rollout that decides for a device: the newest one not cancelled that includes it. */
    private Rollout governing(String uid) {
        for (int i = order.size() - 1; i >= 0; i--) {
            Rollout r = order.get(i);
            if (r.status != Rollout.Status.CANCELLED && includes(r, uid)) {
                return r;
            }
        }
        return null;
    }

    private boolean includes(Rollout r, String uid) {
        if (r.entries.containsKey(uid)) {
            return true;
        }
        return switch (r.target.kind()) {
            case DEVICES -> false;
            case GROUP -> groups.contains(r.target.value(), uid);
            case PATTERN -> Glob.matches(r.target.value(), uid);
        };
    }

    /** The rollout a report is about: the one of package {@code id}, else the deciding one. */
    private Optional<Rollout> locate(String uid, Optional<String> id) {
        for (int i = order.size() - 1; i >= 0; i--) {
            Rollout r = order.get(i);
            if (!r.entries.containsKey(uid)) {
                continue;
            }
            if (id.isPresent() ? r.packageId.equals(id.get()) : r.status != Rollout.Status.CANCELLED) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    /**
     * Answers a check, or pushes an offer to a device that just connected ({@code onConnect}: only what is pending
     * or under way is offered, and "none" is not sent).
     */
    private void check(DeviceRecord dev, boolean onConnect, boolean answer) {
        long now = clock.millis();
        Rollout r = governing(dev.uid);
        Entry e = r == null ? null : r.join(dev.uid, now);
        OtaPackage pkg = r == null ? null : packages.get(r.packageId);
        if (r == null || pkg == null || !r.eligible(e)) {
            none(dev, onConnect, answer);
            return;
        }
        if (dev.version.isPresent()) {
            int cmp = r.version.compareTo(dev.version.get());
            if (cmp == 0) {
                set(r, e, DeviceState.INSTALLED, "");
                none(dev, onConnect, answer);
                return;
            }
            if (cmp < 0 && !r.rollback) {
                set(r, e, DeviceState.SKIPPED, "runs " + dev.version.get() + ", newer than " + r.version
                        + "; only a rollback rollout installs an older version");
                none(dev, onConnect, answer);
                return;
            }
        }
        switch (e.state) {
            case OFFERED, DOWNLOADING -> e.activityAt = now;
            case PENDING, FAILED, SKIPPED, INSTALLED -> {
                boolean fresh = e.state == DeviceState.PENDING;
                if ((onConnect && !fresh) || (e.state == DeviceState.INSTALLED && dev.version.isEmpty())
                        || e.attempts >= settings.maxAttempts()) {
                    none(dev, onConnect, answer);
                    return;
                }
                e.attempts++;
                e.bytes = 0;
                set(r, e, DeviceState.OFFERED, "");
            }
        }
        if (answer) {
            sendOffer(r, pkg, dev, 0);
        }
    }

    private void none(DeviceRecord dev, boolean onConnect, boolean answer) {
        if (answer && !onConnect) {
            publish(dev.uid + "/ota/s", DeviceProtocol.none(dev.encoding));
        }
    }

    private void sendOffer(Rollout r, OtaPackage pkg, DeviceRecord dev, int attempt) {
        String url = settings.publicUrl() + "/ota/images/" + pkg.id() + "?device=" + URLEncoder.encode(dev.uid, StandardCharsets.UTF_8);
        byte[] payload = DeviceProtocol.offer(dev.encoding, pkg, r.id, url);
        offers.increment();
        String uid = dev.uid;
        String rollout = r.id;
        publisher.publish(uid + "/ota/s", payload, 1, false).whenComplete((reached, error) -> {
            if (error == null && reached == 0 && attempt < OFFER_RETRIES) {
                try {
                    timer.schedule(() -> mailbox.offer(new Reoffer(uid, rollout, attempt + 1)), OFFER_RETRY_MILLIS, TimeUnit.MILLISECONDS);
                } catch (java.util.concurrent.RejectedExecutionException closing) {
                    // shutting down
                }
            } else if (error != null) {
                log.warn("ota: offer to device={} failed: {}", uid, error.toString());
            }
        });
    }

    private void reoffer(Reoffer x) {
        Rollout r = rollouts.get(x.rollout());
        DeviceRecord dev = devices.get(x.uid());
        if (r == null || dev == null || governing(x.uid()) != r) {
            return;
        }
        Entry e = r.entries.get(x.uid());
        OtaPackage pkg = packages.get(r.packageId);
        if (e != null && pkg != null && r.eligible(e) && e.state == DeviceState.OFFERED) {
            sendOffer(r, pkg, dev, x.attempt());
        }
    }

    private void download(DeviceRecord dev, DeviceProtocol.Download x, boolean answer) {
        String topic = dev.uid + "/ota/s/d";
        OtaPackage pkg = packages.get(x.id());
        if (pkg == null || x.start() >= pkg.size()) {
            rejected.increment();
            String problem = pkg == null ? "there is no package " + x.id()
                    : "start " + x.start() + " is beyond the image, which has " + pkg.size() + " bytes";
            log.debug("ota: device={} download refused: {}", dev.uid, problem);
            if (answer && dev.encoding == Encoding.JSON) {
                publish(topic, DeviceProtocol.error(problem));
            }
            return;
        }
        long end = Math.min(Math.min(x.end(), pkg.size()), x.start() + settings.chunkBytes());
        progress(dev.uid, Optional.of(pkg.id()), end);
        if (!answer) {
            return;
        }
        byte[] data;
        try {
            data = images.read(pkg.id(), x.start(), (int) (end - x.start()));
        } catch (IOException e) {
            log.error("ota: cannot read the image of package {}: {}", pkg.id(), e.toString());
            return;
        }
        chunks.increment();
        chunkBytes.increment(data.length);
        publish(topic, DeviceProtocol.chunk(dev.encoding, pkg.id(), x.start(), data));
    }

    private void progress(String uid, Optional<String> id, long bytes) {
        Optional<Rollout> found = locate(uid, id);
        if (found.isEmpty()) {
            return;
        }
        Rollout r = found.get();
        Entry e = r.entries.get(uid);
        long now = clock.millis();
        boolean resumed = e.state == DeviceState.FAILED && e.reason.startsWith(TIMEOUT);
        if (e.state == DeviceState.OFFERED || e.state == DeviceState.DOWNLOADING || resumed) {
            e.bytes = Math.max(e.bytes, bytes);
            e.activityAt = now;
            e.updatedAt = now;
            dirty = true;
            set(r, e, DeviceState.DOWNLOADING, "");
        }
    }

    private void done(DeviceRecord dev, DeviceProtocol.Done x) {
        long now = clock.millis();
        x.version().ifPresent(v -> setVersion(dev, v, now));
        Optional<Rollout> found = locate(dev.uid, x.id());
        if (found.isEmpty()) {
            return;
        }
        Rollout r = found.get();
        Entry e = r.entries.get(dev.uid);
        PackageVersion installed = x.version().orElse(r.version);
        if (installed.compareTo(r.version) == 0) {
            OtaPackage pkg = packages.get(r.packageId);
            if (pkg != null) {
                e.bytes = pkg.size();
            }
            if (x.version().isEmpty()) {
                setVersion(dev, r.version, now);
            }
            set(r, e, DeviceState.INSTALLED, "");
        } else {
            set(r, e, DeviceState.FAILED, "the device reported version " + installed + " after installing " + r.version);
        }
    }

    private void set(Rollout r, Entry e, DeviceState state, String reason) {
        if (e.state == state && e.reason.equals(reason)) {
            return;
        }
        long now = clock.millis();
        e.state = state;
        e.reason = reason;
        e.updatedAt = now;
        if (state.intermediate()) {
            e.activityAt = now;
        }
        r.updatedAt = now;
        dirty = true;
        transitions.get(state).increment();
        hub.publish(new OtaEvent(state.word(), r.id, r.packageId, r.version.toString(), e.uid, reason, now));
    }

    private void publish(String topic, byte[] payload) {
        publisher.publish(topic, payload, 1, false).whenComplete((n, error) -> {
            if (error != null) {
                log.warn("ota: publish on {} failed: {}", topic, error.toString());
            }
        });
    }

    private void tick() {
        drain();
        long now = clock.millis();
        long offerTimeout = settings.offerTimeoutSeconds() * 1000L;
        long downloadTimeout = settings.downloadTimeoutSeconds() * 1000L;
        for (Rollout r : order) {
            if (r.status == Rollout.Status.CANCELLED) {
                continue;
            }
            for (Entry e : r.entries.values()) {
                if (e.state == DeviceState.OFFERED && now - e.activityAt >= offerTimeout) {
                    set(r, e, DeviceState.FAILED, TIMEOUT + "no download within " + settings.offerTimeoutSeconds() + " s of the offer");
                } else if (e.state == DeviceState.DOWNLOADING && now - e.activityAt >= downloadTimeout) {
                    set(r, e, DeviceState.FAILED, TIMEOUT + "no download activity for " + settings.downloadTimeoutSeconds() + " s");
                }
            }
            if (r.autoAdvance && r.status == Rollout.Status.ACTIVE && r.stage < r.stages.length - 1 && stageDone(r)) {
                advance(r);
            }
        }
        // No request is waiting: everything the tap has seen is handled, so a restart need not read it again.
        long seen = tapSeen;
        if (!catchingUp && deviceQueue.isEmpty() && seen + 1 > nextOffset) {
            nextOffset = seen + 1;
            dirty = true;
        }
        if (dirty && now - lastSave >= SAVE_INTERVAL_MILLIS) {
            try {
                save();
            } catch (UncheckedIOException e) {
                log.error("ota: cannot write the state file: {}", e.getCause().toString());
            }
        }
    }

    private static boolean stageDone(Rollout r) {
        for (Entry e : r.entries.values()) {
            if (e.stage <= r.stage && e.state != DeviceState.INSTALLED && e.state != DeviceState.SKIPPED) {
                return false;
            }
        }
        return true;
    }

    private void advance(Rollout r) {
        r.stage++;
        r.updatedAt = clock.millis();
        dirty = true;
        event("rollout.advanced", r, "stage " + (r.stage + 1) + " of " + r.stages.length);
    }

    private void event(String what, Rollout r, String reason) {
        hub.publish(new OtaEvent(what, r.id, r.packageId, r.version.toString(), "", reason, clock.millis()));
    }

    // ---- API operations (run on the actor through ask) ----

    OtaPackage commitPackage(OtaPackage p, ImageStore.Staged staged) {
        for (OtaPackage q : packages.values()) {
            if (q.target().equals(p.target()) && q.version().equals(p.version())) {
                images.discard(staged);
                throw conflict("version " + p.version() + " for target " + p.target() + " already exists as package " + q.id());
            }
        }
        try {
            images.commit(staged, p.id());
        } catch (IOException e) {
            images.discard(staged);
            throw new UncheckedIOException("storing the image failed", e);
        }
        packages.put(p.id(), p);
        publishView();
        save();
        hub.publish(new OtaEvent("package.added", "", p.id(), p.version().toString(), "", "", clock.millis()));
        log.info("ota: package added id={} version={} target={} size={}", p.id(), p.version(), p.target(), p.size());
        return p;
    }

    void deletePackage(String id) {
        OtaPackage p = packages.get(id);
        if (p == null) {
            throw ApiException.notFound("no package " + id);
        }
        List<String> users = new ArrayList<>();
        for (Rollout r : order) {
            if (r.packageId.equals(id) && r.status != Rollout.Status.CANCELLED) {
                users.add(r.linkedGroup.isEmpty() ? "rollout " + r.id + " (" + r.status.name().toLowerCase(java.util.Locale.ROOT) + ")"
                        : "the link of group " + r.linkedGroup + " (rollout " + r.id + ")");
            }
        }
        if (!users.isEmpty()) {
            throw conflict("package " + id + " is still used by " + String.join(", ", users) + "; cancel it first");
        }
        packages.remove(id);
        publishView();
        save();
        try {
            images.delete(id);
        } catch (IOException e) {
            log.warn("ota: the image file of deleted package {} could not be removed: {}", id, e.toString());
        }
        hub.publish(new OtaEvent("package.deleted", "", id, p.version().toString(), "", "", clock.millis()));
    }

    /** What a new rollout is asked to be; validated by the routes, checked against the state here. */
    record RolloutSpec(String packageId, Rollout.Target target, int[] stages, boolean rollback, boolean autoAdvance) {
    }

    ObjectNode createRollout(RolloutSpec spec) {
        return view(startRollout(spec, ""));
    }

    private Rollout startRollout(RolloutSpec spec, String linkedGroup) {
        OtaPackage p = packages.get(spec.packageId());
        if (p == null) {
            throw ApiException.badRequest("there is no package " + spec.packageId() + " (GET /api/ota/packages lists them)");
        }
        if (spec.target().kind() == Rollout.TargetKind.GROUP && !groups.exists(spec.target().value())) {
            throw ApiException.badRequest("there is no group " + spec.target().value() + " (GET /api/ota/groups lists them)");
        }
        long now = clock.millis();
        String id = newId();
        while (rollouts.containsKey(id)) {
            id = newId();
        }
        Rollout r = new Rollout(id, p.id(), p.version(), spec.target(), spec.stages(), spec.rollback(), spec.autoAdvance(),
                linkedGroup, now);
        r.addKnown(switch (spec.target().kind()) {
            case DEVICES -> spec.target().devices();
            case GROUP -> groups.explicitMembers(spec.target().value());
            case PATTERN -> List.of();
        }, now);
        rollouts.put(id, r);
        order.add(r);
        save();
        event("rollout.created", r, "");
        log.info("ota: rollout created id={} package={} version={} target={} devices={} stages={}", id, p.id(), p.version(),
                spec.target().kind(), r.entries.size(), r.stages.length);
        return r;
    }

    enum Change { PAUSE, RESUME, CANCEL, ADVANCE }

    ObjectNode changeRollout(String id, Change change) {
        Rollout r = rollouts.get(id);
        if (r == null) {
            throw ApiException.notFound("no rollout " + id);
        }
        apply(r, change);
        save();
        return view(r);
    }

    private void apply(Rollout r, Change change) {
        if (r.status == Rollout.Status.CANCELLED) {
            throw conflict("rollout " + r.id + " is cancelled; create a new one");
        }
        long now = clock.millis();
        switch (change) {
            case PAUSE -> {
                r.status = Rollout.Status.PAUSED;
                event("rollout.paused", r, "");
            }
            case RESUME -> {
                r.status = Rollout.Status.ACTIVE;
                event("rollout.resumed", r, "");
            }
            case CANCEL -> {
                r.status = Rollout.Status.CANCELLED;
                for (Entry e : r.entries.values()) {
                    if (e.state.intermediate()) {
                        set(r, e, DeviceState.FAILED, "the rollout was cancelled");
                    }
                }
                event("rollout.cancelled", r, "");
            }
            case ADVANCE -> {
                if (r.stage >= r.stages.length - 1) {
                    throw conflict("rollout " + r.id + " is at its last stage (" + r.stages.length + " of " + r.stages.length + ")");
                }
                advance(r);
            }
        }
        r.updatedAt = now;
        dirty = true;
    }

    ObjectNode putGroup(String name, List<String> members) {
        if (groups.isConfigured(name)) {
            throw conflict("group " + name + " is defined in the config file ([ota.groups]); change it there");
        }
        groups.put(name, members);
        long now = clock.millis();
        // Rollouts of the group meet their new plain members now, patterns when those devices are met.
        for (Rollout r : order) {
            if (r.status != Rollout.Status.CANCELLED && r.target.kind() == Rollout.TargetKind.GROUP && r.target.value().equals(name)) {
                for (String m : groups.explicitMembers(name)) {
                    r.join(m, now);
                }
            }
        }
        save();
        return groupJson(name);
    }

    void deleteGroup(String name) {
        if (!groups.exists(name)) {
            throw ApiException.notFound("no group " + name);
        }
        if (groups.isConfigured(name)) {
            throw conflict("group " + name + " is defined in the config file ([ota.groups]); remove it there");
        }
        for (Rollout r : order) {
            if (r.status != Rollout.Status.CANCELLED && r.target.kind() == Rollout.TargetKind.GROUP && r.target.value().equals(name)) {
                throw conflict("group " + name + " is used by rollout " + r.id + "; cancel it (or unlink the group) first");
            }
        }
        groups.remove(name);
        save();
    }

    /** Pyrinas' link: the package is offered to every member of the group, now and later; a previous link ends. */
    ObjectNode link(String group, String packageId) {
        if (!groups.exists(group)) {
            throw ApiException.notFound("no group " + group);
        }
        if (!packages.containsKey(packageId)) {
            throw ApiException.badRequest("there is no package " + packageId);
        }
        linkOf(group).ifPresent(old -> apply(old, Change.CANCEL));
        Rollout r = startRollout(new RolloutSpec(packageId, new Rollout.Target(Rollout.TargetKind.GROUP, List.of(), group),
                new int[]{100}, false, false), group);
        return view(r);
    }

    ObjectNode unlink(String group) {
        Rollout r = linkOf(group).orElseThrow(() -> ApiException.notFound("group " + group + " has no linked package"));
        apply(r, Change.CANCEL);
        save();
        return view(r);
    }

    private Optional<Rollout> linkOf(String group) {
        for (Rollout r : order) {
            if (r.status != Rollout.Status.CANCELLED && r.linkedGroup.equals(group)) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    // ---- views (run on the actor through ask) ----

    ObjectNode packagesJson() {
        ObjectNode n = Json.object();
        ArrayNode a = n.putArray("packages");
        packages.values().forEach(p -> a.add(p.toJson()));
        return n;
    }

    ObjectNode packageJson(String id) {
        OtaPackage p = packages.get(id);
        if (p == null) {
            throw ApiException.notFound("no package " + id);
        }
        ObjectNode n = p.toJson();
        ArrayNode used = n.putArray("rollouts");
        for (Rollout r : order) {
            if (r.packageId.equals(id)) {
                used.add(Json.object().put("id", r.id).put("status", r.status.name().toLowerCase(java.util.Locale.ROOT)));
            }
        }
        return n;
    }

    ObjectNode rolloutsJson() {
        ObjectNode n = Json.object();
        ArrayNode a = n.putArray("rollouts");
        for (Rollout r : order) {
            a.add(r.toJson(Optional.ofNullable(packages.get(r.packageId)), false));
        }
        return n;
    }

    ObjectNode rolloutJson(String id) {
        Rollout r = rollouts.get(id);
        if (r == null) {
            throw ApiException.notFound("no rollout " + id);
        }
        return view(r);
    }

    private ObjectNode view(Rollout r) {
        return r.toJson(Optional.ofNullable(packages.get(r.packageId)), true);
    }

    ObjectNode groupsJson() {
        ObjectNode n = Json.object();
        ArrayNode a = n.putArray("groups");
        for (String name : groups.all().keySet()) {
            a.add(groupJson(name));
        }
        return n;
    }

    ObjectNode groupJson(String name) {
        if (!groups.exists(name)) {
            throw ApiException.notFound("no group " + name);
        }
        ObjectNode g = Json.object();
        g.put("name", name);
        g.put("source", groups.isConfigured(name) ? "config" : "api");
        ArrayNode m = g.putArray("devices");
        groups.members(name).forEach(m::add);
        linkOf(name).ifPresent(r -> g.putObject("link").put("rollout", r.id).put("package", r.packageId)
                .put("version", r.version.toString()));
        return g;
    }

    ObjectNode devicesJson() {
        ObjectNode n = Json.object();
        ArrayNode a = n.putArray("devices");
        devices.values().forEach(d -> a.add(d.toJson()));
        return n;
    }

    ObjectNode deviceJson(String uid) {
        DeviceRecord d = devices.get(uid);
        List<ObjectNode> in = new ArrayList<>();
        for (int i = order.size() - 1; i >= 0; i--) {
            Rollout r = order.get(i);
            Entry e = r.entries.get(uid);
            if (e != null) {
                ObjectNode x = r.entryJson(e);
                x.remove("uid");
                x.put("rollout", r.id);
                x.put("package", r.packageId);
                x.put("version", r.version.toString());
                x.put("rolloutStatus", r.status.name().toLowerCase(java.util.Locale.ROOT));
                in.add(x);
            }
        }
        if (d == null && in.isEmpty()) {
            throw ApiException.notFound("the OTA service has not met device " + uid);
        }
        ObjectNode n = d != null ? d.toJson() : new DeviceRecord(uid).toJson();
        ArrayNode a = n.putArray("rollouts");
        in.forEach(a::add);
        return n;
    }

    /** For tests: runs the once-a-second work now. */
    void tickNow() {
        ask(() -> {
            tick();
            return null;
        });
    }

    static ApiException conflict(String detail) {
        return new ApiException(409, "conflict", detail);
    }

    // ---- the state file ----

    record Snapshot(int format, long offset, List<OtaPackage.Stored> packages, Map<String, List<String>> groups,
                    List<Rollout.Stored> rollouts, List<DeviceRecord.Stored> devices) {
    }

    private Path stateFile() {
        return dir.resolve("state.json");
    }

    /** Writes the whole state with the offset it covers: a temporary file, synced, renamed over the old one. */
    private void save() {
        List<OtaPackage.Stored> ps = packages.values().stream().map(OtaPackage.Stored::of).toList();
        List<Rollout.Stored> rs = order.stream().map(Rollout::store).toList();
        List<DeviceRecord.Stored> ds = devices.values().stream().map(DeviceRecord::store).toList();
        Snapshot s = new Snapshot(FORMAT, nextOffset, ps, new LinkedHashMap<>(groups.managed()), rs, ds);
        Path tmp = dir.resolve("state.json.tmp");
        try {
            byte[] bytes = Json.MAPPER.writeValueAsBytes(s);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                var b = java.nio.ByteBuffer.wrap(bytes);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            Files.move(tmp, stateFile(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            } catch (IOException e) {
                // not every file system syncs directories; the rename itself is atomic
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + stateFile() + " failed", e);
        }
        dirty = false;
        lastSave = clock.millis();
    }

    /** Reads the state file; returns the offset to read requests from. Without one, requests from now on count. */
    private long load(long end) throws IOException {
        Path f = stateFile();
        if (!Files.exists(f)) {
            return end;
        }
        Snapshot s;
        try {
            s = Json.MAPPER.readValue(f.toFile(), Snapshot.class);
        } catch (IOException e) {
            throw new IOException("the OTA state file " + f + " cannot be read (" + e.getMessage()
                    + "); restore it from a backup or move it away to start without packages and rollouts", e);
        }
        for (OtaPackage.Stored p : s.packages()) {
            OtaPackage pkg = p.toPackage();
            if (!Files.exists(images.path(pkg.id()))) {
                log.warn("ota: the image file of package {} ({}) is missing: {}", pkg.id(), pkg.version(), images.path(pkg.id()));
            }
            packages.put(pkg.id(), pkg);
        }
        if (s.groups() != null) {
            s.groups().forEach(groups::put);
        }
        for (Rollout.Stored rs : s.rollouts()) {
            Rollout r = Rollout.restore(rs);
            rollouts.put(r.id, r);
            order.add(r);
        }
        for (DeviceRecord.Stored ds : s.devices()) {
            DeviceRecord d = DeviceRecord.restore(ds);
            devices.put(d.uid, d);
            d.version.ifPresent(v -> firmware.put(d.uid, v.toString()));
        }
        // An offset past the stream's end means the stream was replaced: start from its end.
        return s.offset() <= end ? Math.max(s.offset(), raw.startOffset()) : end;
    }

    private void publishView() {
        packageView = Map.copyOf(packages);
    }

    /** How {@link OtaService} is made; every part but {@code signer} is required. */
    public static final class Builder {
        private OtaSettings settings;
        private Clock clock;
        private EventHub hub;
        private MessageStream raw;
        private DevicePublisher publisher;
        private MeterRegistry metrics;
        private Path dir;
        private Optional<Signer> signer = Optional.empty();

        private Builder() {
        }

        public Builder settings(OtaSettings s) {
            this.settings = s;
            return this;
        }

        public Builder clock(Clock c) {
            this.clock = c;
            return this;
        }

        public Builder hub(EventHub h) {
            this.hub = h;
            return this;
        }

        /** The raw stream: device requests are read from it. */
        public Builder raw(MessageStream s) {
            this.raw = s;
            return this;
        }

        public Builder publisher(DevicePublisher p) {
            this.publisher = p;
            return this;
        }

        public Builder metrics(MeterRegistry m) {
            this.metrics = m;
            return this;
        }

        /** The folder of the OTA files ({@code <data>/ota}). */
        public Builder dir(Path d) {
            this.dir = d;
            return this;
        }

        public Builder signer(Optional<Signer> s) {
            this.signer = Objects.requireNonNull(s);
            return this;
        }

        /** Loads the state, starts the actor and begins taking device requests. */
        public OtaService start() throws IOException {
            Objects.requireNonNull(settings, "settings");
            Objects.requireNonNull(clock, "clock");
            Objects.requireNonNull(hub, "hub");
            Objects.requireNonNull(raw, "raw");
            Objects.requireNonNull(publisher, "publisher");
            Objects.requireNonNull(metrics, "metrics");
            Objects.requireNonNull(dir, "dir");
            return new OtaService(this).begin();
        }
    }
}
