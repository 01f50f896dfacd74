package io.junction.ota;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;
import io.junction.core.actor.Actor;
import io.junction.core.actor.ActorException;
import io.junction.core.device.DevicePublisher;
import io.junction.core.device.DeviceUid;
import io.junction.core.http.ApiException;
import io.junction.core.hub.EventHub;
import io.junction.core.state.StateWrite;
import io.junction.core.stream.StreamEntry;
import io.junction.ota.DeviceProtocol.Encoding;
import io.junction.ota.Rollout.DeviceState;
import io.junction.ota.Rollout.Entry;
import io.junction.ota.RolloutCommand.AddPackage;
import io.junction.ota.RolloutCommand.ChangeRollout;
import io.junction.ota.RolloutCommand.Change;
import io.junction.ota.RolloutCommand.CheckStage;
import io.junction.ota.RolloutCommand.CheckTimeout;
import io.junction.ota.RolloutCommand.Connected;
import io.junction.ota.RolloutCommand.CreateRollout;
import io.junction.ota.RolloutCommand.DeleteGroup;
import io.junction.ota.RolloutCommand.DeletePackage;
import io.junction.ota.RolloutCommand.DeviceRequests;
import io.junction.ota.RolloutCommand.Flush;
import io.junction.ota.RolloutCommand.Followed;
import io.junction.ota.RolloutCommand.GetDevice;
import io.junction.ota.RolloutCommand.GetRollout;
import io.junction.ota.RolloutCommand.HttpProgress;
import io.junction.ota.RolloutCommand.Link;
import io.junction.ota.RolloutCommand.ListDevices;
import io.junction.ota.RolloutCommand.ListRollouts;
import io.junction.ota.RolloutCommand.PutGroup;
import io.junction.ota.RolloutCommand.Reoffer;
import io.junction.ota.RolloutCommand.RolloutSpec;
import io.junction.ota.RolloutCommand.Save;
import io.junction.ota.RolloutCommand.Started;
import io.junction.ota.RolloutCommand.Unlink;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The rollout actor: owns the packages, the groups made over the API, the rollouts with every device's state and each
 * device's firmware version, and answers devices on their OTA topics. It runs on the one actor runtime: typed
 * commands ({@link RolloutCommand}), a bounded mailbox, and every timer — offer and download time-outs, automatic
 * stage advances, re-offers, the deferred write — on the injected clock. What others read without asking it, the
 * {@link Catalogue} and the devices' firmware versions, it publishes after each change.
 *
 * <p>Durability: API changes are written to the state port before they are answered; device changes at most a second
 * later, together with the raw-stream offset they cover. After a crash the device requests after that offset are
 * applied again; requests that came before the actor started are applied, never answered again.
 */
final class Rollouts implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Rollouts.class);

    static final String TIMEOUT = "timeout: ";
    static final String REQUEST_SUFFIX = "/ota/p";
    private static final int MAILBOX = 1024;
    private static final int OFFER_RETRIES = 20;
    private static final Duration OFFER_RETRY = Duration.ofMillis(250);
    private static final Duration FLUSH_DELAY = Duration.ofSeconds(1);
    private static final int API_WAIT_SECONDS = 30;

    /** Timer tags: a timer replaces an earlier one with an equal tag. */
    private record TimeoutTag(String rollout, String uid) {
    }

    private record StageTag(String rollout) {
    }

    private record ReofferTag(String uid) {
    }

    private enum FlushTag { INSTANCE }

    private final OtaSettings settings;
    private final Clock clock;
    private final EventHub hub;
    private final DevicePublisher publisher;
    private final ImageStore images;
    private final OtaState store;
    private final Actor<RolloutCommand> actor;
    private final SecureRandom random = new SecureRandom();

    // ---- the actor's state (its thread only) ----
    private final LinkedHashMap<String, OtaPackage> packages = new LinkedHashMap<>();
    /** each package's place in upload order, as stored */
    private final Map<String, Long> packageSeq = new HashMap<>();
    private long nextSeq;
    private long nextDeviceSeq;
    private final LinkedHashMap<String, Rollout> rollouts = new LinkedHashMap<>();
    private final List<Rollout> order = new ArrayList<>();
    private final Map<String, DeviceRecord> devices = new LinkedHashMap<>();
    private final Groups groups;
    /** the raw-stream offset after the last request applied (or looked at): what the state says it covers */
    private long nextOffset;
    /** requests before this offset came before the start: they were answered then, or never will be */
    private final long answerFrom;
    // what changed since the last write, by key
    private final Set<String> changedPackages = new LinkedHashSet<>();
    private final Set<String> changedGroups = new LinkedHashSet<>();
    private final Set<String> changedRollouts = new LinkedHashSet<>();
    /** "rollout id/uid" */
    private final Set<String> changedEntries = new LinkedHashSet<>();
    private final Set<String> changedDevices = new LinkedHashSet<>();
    private boolean offsetChanged;

    // ---- published for other threads ----
    private volatile Catalogue catalogue;
    /** uid → the firmware version it runs; written by the actor, read by the device directory */
    private final ConcurrentHashMap<String, String> firmware = new ConcurrentHashMap<>();

    // ---- metrics ----
    private final Map<String, Counter> requests = new HashMap<>();
    private final Counter rejected;
    private final Counter offers;
    private final Counter chunks;
    private final Counter chunkBytes;
    private final Map<DeviceState, Counter> transitions = new EnumMap<>(DeviceState.class);

    /**
     * Starts the actor on what {@code loaded} holds; device requests from {@code nextOffset} on are read again, those
     * before {@code answerFrom} without being answered.
     */
    Rollouts(OtaSettings settings, Clock clock, EventHub hub, DevicePublisher publisher, MeterRegistry metrics,
             ImageStore images, OtaState store, OtaState.Loaded loaded, long nextOffset, long answerFrom) {
        this.settings = settings;
        this.clock = clock;
        this.hub = hub;
        this.publisher = publisher;
        this.images = images;
        this.store = store;
        this.groups = new Groups(settings.groups());
        this.nextOffset = nextOffset;
        // Recorded at the first write even when no request comes: requests sent while the server is down are read then.
        this.offsetChanged = true;
        this.answerFrom = answerFrom;
        this.rejected = Counter.builder("junction.ota.rejected").description("OTA device requests that were not understood").register(metrics);
        this.offers = Counter.builder("junction.ota.offers").description("OTA offers sent to devices").register(metrics);
        this.chunks = Counter.builder("junction.ota.chunks").description("Image chunks sent over MQTT").register(metrics);
        this.chunkBytes = Counter.builder("junction.ota.chunk.bytes").description("Image bytes sent over MQTT").register(metrics);
        for (DeviceState s : DeviceState.values()) {
            transitions.put(s, Counter.builder("junction.ota.transitions").tag("state", s.word())
                    .description("Devices that entered each OTA state").register(metrics));
        }
        for (String type : List.of("check", "download", "progress", "done", "failed")) {
            requests.put(type, Counter.builder("junction.ota.requests").tag("type", type)
                    .description("OTA device requests, by type").register(metrics));
        }
        for (OtaPackage.Doc doc : loaded.packages()) {
            OtaPackage p = doc.toPackage();
            if (!Files.exists(images.path(p.id()))) {
                log.warn("ota: the image file of package {} ({}) is missing: {}", p.id(), p.version(), images.path(p.id()));
            }
            packages.put(p.id(), p);
            packageSeq.put(p.id(), doc.seq());
            nextSeq = Math.max(nextSeq, doc.seq() + 1);
        }
        loaded.groups().forEach(groups::put);
        for (Rollout r : loaded.rollouts()) {
            rollouts.put(r.id, r);
            order.add(r);
            nextSeq = Math.max(nextSeq, r.seq + 1);
        }
        for (DeviceRecord d : loaded.devices()) {
            devices.put(d.uid, d);
            nextDeviceSeq = Math.max(nextDeviceSeq, d.seq + 1);
            d.version.ifPresent(v -> firmware.put(d.uid, v.toString()));
        }
        publishCatalogue();
        this.actor = Actor.start("ota", MAILBOX, clock, this::handle);
        actor.tell(new Started());
    }

    // ---- what other threads call: each only enqueues ----

    /** The packages and groups as of the last change; any thread. */
    Catalogue catalogue() {
        return catalogue;
    }

    /** {@code {"firmwareVersion": ...}} when the device said which version it runs; any thread. */
    Map<String, Object> deviceFacts(String uid) {
        String v = firmware.get(uid);
        return v == null ? Map.of() : Map.of("firmwareVersion", v);
    }

    /**
     * Hands a batch of device requests to the actor and waits until they are applied (the follower's handler): a
     * failure here makes the follower deliver the batch again.
     */
    void apply(List<StreamEntry> batch) throws Exception {
        CompletableFuture<Void> done = new CompletableFuture<>();
        actor.send(new DeviceRequests(List.copyOf(batch), done));
        done.get();
    }

    /** The follower has looked at everything below {@code next}. */
    void followed(long next) {
        actor.tell(new Followed(next));
    }

    void connected(String uid) {
        actor.tell(new Connected(uid));
    }

    /** Advisory: a full mailbox drops it, the download itself goes on. */
    void httpProgress(String uid, String packageId, long end) {
        actor.tell(new HttpProgress(uid, packageId, end));
    }

    CompletableFuture<Void> save() {
        return request(reply -> new Save(reply));
    }

    CompletableFuture<OtaPackage> addPackage(OtaPackage p, ImageStore.Staged staged) {
        return request(reply -> new AddPackage(p, staged, reply));
    }

    CompletableFuture<Void> deletePackage(String id) {
        return request(reply -> new DeletePackage(id, reply));
    }

    CompletableFuture<ObjectNode> createRollout(RolloutSpec spec) {
        return request(reply -> new CreateRollout(spec, reply));
    }

    CompletableFuture<ObjectNode> changeRollout(String id, Change change) {
        return request(reply -> new ChangeRollout(id, change, reply));
    }

    CompletableFuture<ObjectNode> putGroup(String name, List<String> members) {
        return request(reply -> new PutGroup(name, List.copyOf(members), reply));
    }

    CompletableFuture<Void> deleteGroup(String name) {
        return request(reply -> new DeleteGroup(name, reply));
    }

    CompletableFuture<ObjectNode> link(String group, String packageId) {
        return request(reply -> new Link(group, packageId, reply));
    }

    CompletableFuture<ObjectNode> unlink(String group) {
        return request(reply -> new Unlink(group, reply));
    }

    CompletableFuture<ObjectNode> rolloutsView() {
        return request(ListRollouts::new);
    }

    CompletableFuture<ObjectNode> rolloutView(String id) {
        return request(reply -> new GetRollout(id, reply));
    }

    CompletableFuture<ObjectNode> devicesView() {
        return request(ListDevices::new);
    }

    CompletableFuture<ObjectNode> deviceView(String uid) {
        return request(reply -> new GetDevice(uid, reply));
    }

    /** API requests wait for room in the mailbox (they come on request threads that may block). */
    private <R> CompletableFuture<R> request(Function<CompletableFuture<R>, RolloutCommand> make) {
        CompletableFuture<R> reply = new CompletableFuture<>();
        actor.send(make.apply(reply));
        return reply;
    }

    /**
     * Waits for an API request's answer; its {@link ApiException} reaches the caller as is, and an actor that is
     * overloaded, closed or too slow gives a 503.
     */
    static <T> T await(CompletableFuture<T> reply) {
        try {
            return reply.get(API_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof ActorException a) {
                throw new ApiException(503, "service unavailable", a.kind() == ActorException.Kind.CLOSED
                        ? "the server is shutting down" : "the OTA service is overloaded; try again");
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(c);
        } catch (TimeoutException e) {
            throw new ApiException(503, "service unavailable", "the OTA service did not answer within " + API_WAIT_SECONDS
                    + " s; try again");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    String newId() {
        byte[] b = new byte[6];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** Writes what changed and stops; commands still queued are handled for at most five seconds. */
    @Override
    public void close() {
        try {
            save().get(5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            log.warn("ota: the state could not be written on close: {}", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        actor.close(Duration.ofSeconds(5));
    }

    // ---- the actor ----

    private void handle(RolloutCommand c) {
        try {
            switch (c) {
                case Started x -> armRestored();
                case DeviceRequests x -> {
                    for (StreamEntry e : x.batch()) {
                        process(e);
                    }
                    x.reply().complete(null);
                }
                case Followed x -> {
                    if (x.next() > nextOffset) {
                        nextOffset = x.next();
                        offsetChanged = true;
                    }
                }
                case Connected x -> {
                    if (DeviceUid.isValid(x.uid()) && governing(x.uid()) != null) {
                        check(device(x.uid()), true, true);
                    }
                }
                case HttpProgress x -> progress(x.uid(), Optional.of(x.packageId()), x.end());
                case Reoffer x -> reoffer(x);
                case CheckTimeout x -> checkTimeout(x);
                case CheckStage x -> checkStage(x.rollout());
                case Flush x -> {
                    try {
                        flush();
                    } catch (RuntimeException e) {
                        log.error("ota: cannot write the state: {}; trying again in {}", e.toString(), FLUSH_DELAY);
                    }
                }
                case Save x -> x.reply().complete(written(null));
                case AddPackage x -> x.reply().complete(written(commitPackage(x.pkg(), x.staged())));
                case DeletePackage x -> {
                    removePackage(x.id());   // writes before it deletes the image file
                    x.reply().complete(null);
                }
                case CreateRollout x -> x.reply().complete(written(view(startRollout(x.spec(), ""))));
                case ChangeRollout x -> x.reply().complete(written(change(x.id(), x.change())));
                case PutGroup x -> x.reply().complete(written(replaceGroup(x.name(), x.members())));
                case DeleteGroup x -> {
                    removeGroup(x.name());
                    x.reply().complete(written(null));
                }
                case Link x -> x.reply().complete(written(linkGroup(x.group(), x.packageId())));
                case Unlink x -> x.reply().complete(written(unlinkGroup(x.group())));
                case ListRollouts x -> x.reply().complete(rolloutsJson());
                case GetRollout x -> x.reply().complete(rolloutJson(x.id()));
                case ListDevices x -> x.reply().complete(devicesJson());
                case GetDevice x -> x.reply().complete(deviceJson(x.uid()));
            }
        } finally {
            if (changed() && !actor.scheduled(FlushTag.INSTANCE)) {
                actor.scheduleAfter(FLUSH_DELAY, FlushTag.INSTANCE, new Flush());
            }
        }
    }

    /** After an API change: the catalogue readers see it and the state port holds it before the caller hears back. */
    private <T> T written(T result) {
        publishCatalogue();
        flush();
        return result;
    }

    /** Sets the timers of what was restored: time-outs of devices mid-update, stage checks of auto rollouts. */
    private void armRestored() {
        for (Rollout r : order) {
            if (r.status == Rollout.Status.CANCELLED) {
                continue;
            }
            for (Entry e : r.entries.values()) {
                if (e.state.intermediate()) {
                    armTimeout(r, e);
                }
            }
            stageCheckLater(r);
        }
        log.info("ota started packages={} rollouts={} devices={} from_offset={}", packages.size(), rollouts.size(),
                devices.size(), nextOffset);
    }

    private void process(StreamEntry entry) {
        if (entry.offset() < nextOffset) {
            return;   // applied before (a batch delivered again)
        }
        nextOffset = entry.offset() + 1;
        offsetChanged = true;
        try {
            processRequest(entry, entry.offset() >= answerFrom);
        } catch (RuntimeException e) {
            rejected.increment();
            log.warn("ota: the request at offset={} on {} could not be handled: {}", entry.offset(), entry.message().topic(),
                    e.toString(), e);
        }
    }

    private void processRequest(StreamEntry entry, boolean answer) {
        String topic = entry.message().topic();
        String uid = topic.substring(0, topic.length() - REQUEST_SUFFIX.length());
        if (!DeviceUid.isValid(uid)) {
            rejected.increment();
            log.debug("ota: request on {} ignored: the topic does not start with a valid device uid", topic);
            return;
        }
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
        changedDevices.add(uid);
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
        return devices.computeIfAbsent(uid, u -> {
            changedDevices.add(u);
            return new DeviceRecord(u, nextDeviceSeq++);
        });
    }

    private void setVersion(DeviceRecord dev, PackageVersion v, long now) {
        dev.version(v, now);
        firmware.put(dev.uid, v.toString());
        changedDevices.add(dev.uid);
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
        Entry e = r == null ? null : join(r, dev.uid, now);
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
            case OFFERED, DOWNLOADING -> {
                e.activityAt = now;
                changed(r, e);
            }
            case PENDING, FAILED, SKIPPED, INSTALLED -> {
                boolean fresh = e.state == DeviceState.PENDING;
                if ((onConnect && !fresh) || (e.state == DeviceState.INSTALLED && dev.version.isEmpty())
                        || e.attempts >= settings.maxAttempts()) {
                    none(dev, onConnect, answer);
                    return;
                }
                e.attempts++;
                e.bytes = 0;
                changed(r, e);
                set(r, e, DeviceState.OFFERED, "");
            }
        }
        if (answer) {
            sendOffer(r, pkg, dev, 0);
        }
    }

    /** The device's entry in the rollout, added when the rollout meets it for the first time. */
    private Entry join(Rollout r, String uid, long now) {
        Entry e = r.entries.get(uid);
        if (e == null) {
            e = r.join(uid, now);
            changed(r, e);
        }
        return e;
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
                if (!actor.isClosed()) {
                    actor.scheduleAfter(OFFER_RETRY, new ReofferTag(uid), new Reoffer(uid, rollout, attempt + 1));
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
            changed(r, e);
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
                changed(r, e);
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
        r.updatedAt = now;
        changed(r, e);
        if (state.intermediate()) {
            e.activityAt = now;
            armTimeout(r, e);
        } else if (state == DeviceState.INSTALLED || state == DeviceState.SKIPPED) {
            stageCheckLater(r);
        }
        transitions.get(state).increment();
        hub.publish(new OtaEvent(state.word(), r.id, r.packageId, r.version.toString(), e.uid, reason, now));
    }

    private void changed(Rollout r, Entry e) {
        changedRollouts.add(r.id);
        changedEntries.add(r.id + "/" + e.uid);
    }

    private void publish(String topic, byte[] payload) {
        publisher.publish(topic, payload, 1, false).whenComplete((n, error) -> {
            if (error != null) {
                log.warn("ota: publish on {} failed: {}", topic, error.toString());
            }
        });
    }

    // ---- timers ----

    private long timeoutMillis(DeviceState state) {
        return (state == DeviceState.OFFERED ? settings.offerTimeoutSeconds() : settings.downloadTimeoutSeconds()) * 1000L;
    }

    /**
     * Makes sure a time-out check comes no later than the entry's deadline. Activity only moves a deadline later, so
     * a timer that comes early is simply set again for the new deadline: a chunk costs no timer work.
     */
    private void armTimeout(Rollout r, Entry e) {
        long deadline = e.activityAt + timeoutMillis(e.state);
        if (e.timerAt == 0 || deadline < e.timerAt) {
            actor.schedule(Instant.ofEpochMilli(deadline), new TimeoutTag(r.id, e.uid), new CheckTimeout(r.id, e.uid));
            e.timerAt = deadline;
        }
    }

    private void checkTimeout(CheckTimeout x) {
        Rollout r = rollouts.get(x.rollout());
        Entry e = r == null ? null : r.entries.get(x.uid());
        if (e == null) {
            return;
        }
        e.timerAt = 0;
        if (r.status == Rollout.Status.CANCELLED || !e.state.intermediate()) {
            return;
        }
        if (clock.millis() < e.activityAt + timeoutMillis(e.state)) {
            armTimeout(r, e);
        } else if (e.state == DeviceState.OFFERED) {
            set(r, e, DeviceState.FAILED, TIMEOUT + "no download within " + settings.offerTimeoutSeconds() + " s of the offer");
        } else {
            set(r, e, DeviceState.FAILED, TIMEOUT + "no download activity for " + settings.downloadTimeoutSeconds() + " s");
        }
    }

    /** An auto rollout looks at its stage as soon as the actor is free (many installs in a row make one check). */
    private void stageCheckLater(Rollout r) {
        if (r.autoAdvance && r.status == Rollout.Status.ACTIVE && r.stage < r.stages.length - 1
                && !actor.scheduled(new StageTag(r.id))) {
            actor.schedule(clock.instant(), new StageTag(r.id), new CheckStage(r.id));
        }
    }

    private void checkStage(String id) {
        Rollout r = rollouts.get(id);
        if (r != null && r.autoAdvance && r.status == Rollout.Status.ACTIVE && r.stage < r.stages.length - 1 && stageDone(r)) {
            advance(r);
            stageCheckLater(r);   // the next stage may be done already
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
        changedRollouts.add(r.id);
        event("rollout.advanced", r, "stage " + (r.stage + 1) + " of " + r.stages.length);
    }

    private void event(String what, Rollout r, String reason) {
        hub.publish(new OtaEvent(what, r.id, r.packageId, r.version.toString(), "", reason, clock.millis()));
    }

    // ---- API operations ----

    private OtaPackage commitPackage(OtaPackage p, ImageStore.Staged staged) {
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
        packageSeq.put(p.id(), nextSeq++);
        changedPackages.add(p.id());
        hub.publish(new OtaEvent("package.added", "", p.id(), p.version().toString(), "", "", clock.millis()));
        log.info("ota: package added id={} version={} target={} size={}", p.id(), p.version(), p.target(), p.size());
        return p;
    }

    private void removePackage(String id) {
        OtaPackage p = packages.get(id);
        if (p == null) {
            throw ApiException.notFound("no package " + id);
        }
        List<String> users = new ArrayList<>();
        for (Rollout r : order) {
            if (r.packageId.equals(id) && r.status != Rollout.Status.CANCELLED) {
                users.add(r.linkedGroup.isEmpty() ? "rollout " + r.id + " (" + r.status.name().toLowerCase(Locale.ROOT) + ")"
                        : "the link of group " + r.linkedGroup + " (rollout " + r.id + ")");
            }
        }
        if (!users.isEmpty()) {
            throw conflict("package " + id + " is still used by " + String.join(", ", users) + "; cancel it first");
        }
        packages.remove(id);
        packageSeq.remove(id);
        changedPackages.add(id);
        // The record goes before the file: a crash in between leaves a stray file, never a package without its image.
        written(null);
        try {
            images.delete(id);
        } catch (IOException e) {
            log.warn("ota: the image file of deleted package {} could not be removed: {}", id, e.toString());
        }
        hub.publish(new OtaEvent("package.deleted", "", id, p.version().toString(), "", "", clock.millis()));
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
                linkedGroup, now, nextSeq++);
        r.addKnown(switch (spec.target().kind()) {
            case DEVICES -> spec.target().devices();
            case GROUP -> groups.explicitMembers(spec.target().value());
            case PATTERN -> List.of();
        }, now);
        rollouts.put(id, r);
        order.add(r);
        changedRollouts.add(id);
        for (Entry e : r.entries.values()) {
            changed(r, e);
        }
        stageCheckLater(r);
        event("rollout.created", r, "");
        log.info("ota: rollout created id={} package={} version={} target={} devices={} stages={}", id, p.id(), p.version(),
                spec.target().kind(), r.entries.size(), r.stages.length);
        return r;
    }

    private ObjectNode change(String id, Change change) {
        Rollout r = rollouts.get(id);
        if (r == null) {
            throw ApiException.notFound("no rollout " + id);
        }
        apply(r, change);
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
                stageCheckLater(r);
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
        changedRollouts.add(r.id);
    }

    private ObjectNode replaceGroup(String name, List<String> members) {
        if (groups.isConfigured(name)) {
            throw conflict("group " + name + " is defined in the config file ([ota.groups]); change it there");
        }
        groups.put(name, members);
        changedGroups.add(name);
        long now = clock.millis();
        // Rollouts of the group meet their new plain members now, patterns when those devices are met.
        for (Rollout r : order) {
            if (r.status != Rollout.Status.CANCELLED && r.target.kind() == Rollout.TargetKind.GROUP && r.target.value().equals(name)) {
                for (String m : groups.explicitMembers(name)) {
                    join(r, m, now);
                }
            }
        }
        publishCatalogue();
        return catalogue.groupJson(name);
    }

    private void removeGroup(String name) {
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
        changedGroups.add(name);
    }

    /** Pyrinas' link: the package is offered to every member of the group, now and later; a previous link ends. */
    private ObjectNode linkGroup(String group, String packageId) {
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

    private ObjectNode unlinkGroup(String group) {
        Rollout r = linkOf(group).orElseThrow(() -> ApiException.notFound("group " + group + " has no linked package"));
        apply(r, Change.CANCEL);
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

    // ---- views ----

    private ObjectNode rolloutsJson() {
        ObjectNode n = Json.object();
        ArrayNode a = n.putArray("rollouts");
        for (Rollout r : order) {
            a.add(r.toJson(Optional.ofNullable(packages.get(r.packageId)), false));
        }
        return n;
    }

    private ObjectNode rolloutJson(String id) {
        Rollout r = rollouts.get(id);
        if (r == null) {
            throw ApiException.notFound("no rollout " + id);
        }
        return view(r);
    }

    private ObjectNode view(Rollout r) {
        return r.toJson(Optional.ofNullable(packages.get(r.packageId)), true);
    }

    private ObjectNode devicesJson() {
        ObjectNode n = Json.object();
        ArrayNode a = n.putArray("devices");
        devices.values().forEach(d -> a.add(d.toJson()));
        return n;
    }

    private ObjectNode deviceJson(String uid) {
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
                x.put("rolloutStatus", r.status.name().toLowerCase(Locale.ROOT));
                in.add(x);
            }
        }
        if (d == null && in.isEmpty()) {
            throw ApiException.notFound("the OTA service has not met device " + uid);
        }
        ObjectNode n = d != null ? d.toJson() : new DeviceRecord(uid, 0).toJson();
        ArrayNode a = n.putArray("rollouts");
        in.forEach(a::add);
        return n;
    }

    static ApiException conflict(String detail) {
        return new ApiException(409, "conflict", detail);
    }

    // ---- publishing and writing ----

    private void publishCatalogue() {
        Map<String, Catalogue.LinkView> links = new HashMap<>();
        Map<String, List<Catalogue.Use>> uses = new HashMap<>();
        for (Rollout r : order) {
            uses.computeIfAbsent(r.packageId, k -> new ArrayList<>())
                    .add(new Catalogue.Use(r.id, r.status.name().toLowerCase(Locale.ROOT)));
            if (r.status != Rollout.Status.CANCELLED && !r.linkedGroup.isEmpty()) {
                links.putIfAbsent(r.linkedGroup, new Catalogue.LinkView(r.id, r.packageId, r.version.toString()));
            }
        }
        uses.replaceAll((k, v) -> List.copyOf(v));
        catalogue = new Catalogue(packages, groups.configured(), groups.managed(), links, uses);
    }

    private boolean changed() {
        return offsetChanged || !changedPackages.isEmpty() || !changedGroups.isEmpty() || !changedRollouts.isEmpty()
                || !changedEntries.isEmpty() || !changedDevices.isEmpty();
    }

    /**
     * Writes everything that changed, with the offset it covers, in one atomic batch. When the write fails nothing is
     * forgotten: the next write carries it.
     */
    private void flush() {
        if (!changed()) {
            return;
        }
        List<StateWrite> writes = new ArrayList<>();
        for (String id : changedPackages) {
            OtaPackage p = packages.get(id);
            writes.add(p == null ? OtaState.deletePackage(id) : OtaState.putPackage(p, packageSeq.get(id)));
        }
        for (String name : changedGroups) {
            List<String> members = groups.managed().get(name);
            writes.add(members == null ? OtaState.deleteGroup(name) : OtaState.putGroup(name, members));
        }
        for (String id : changedRollouts) {
            writes.add(OtaState.putRollout(rollouts.get(id)));
        }
        for (String key : changedEntries) {
            int slash = key.indexOf('/');
            Rollout r = rollouts.get(key.substring(0, slash));
            writes.add(OtaState.putEntry(r, r.entries.get(key.substring(slash + 1))));
        }
        for (String uid : changedDevices) {
            writes.add(OtaState.putDevice(devices.get(uid)));
        }
        if (offsetChanged) {
            writes.add(OtaState.putOffset(nextOffset));
        }
        store.write(writes);
        changedPackages.clear();
        changedGroups.clear();
        changedRollouts.clear();
        changedEntries.clear();
        changedDevices.clear();
        offsetChanged = false;
    }
}
