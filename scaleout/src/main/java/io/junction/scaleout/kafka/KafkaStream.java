package io.junction.scaleout.kafka;

import io.junction.core.Message;
import io.junction.core.stream.MessageStream;
import io.junction.core.stream.StreamEntry;
import io.junction.core.stream.StreamFullException;
import io.junction.scaleout.EngineHealth;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeLogDirsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.BufferExhaustedException;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * A stream ({@code raw} or {@code processed}) as a Kafka topic of ONE partition, so that a Kafka offset is the
 * stream's offset: dense from 0, one per message, one total order, as the port requires (and as the embedded log
 * gives). Records are keyed by the message's device, so a future layout over several partitions keeps each device's
 * order. The value is the message as JSON (see {@link RecordCodec}); the record time is the message's time.
 *
 * <p>{@link #append} never blocks: the producer is idempotent with {@code acks=all} and {@code max.block.ms=0}, the
 * topic's metadata is fetched in {@link #open}, and at most {@code maxPending} appends wait for Kafka's
 * acknowledgement; one more is refused at once with {@link StreamFullException}, so the producer (MQTT) pushes back.
 * An append's future completes with the record's offset only once Kafka acknowledged it (when every in-sync replica
 * has it and consumers can read it), on the producer's I/O thread: what depends on it must not block. While Kafka is
 * away the producer keeps retrying for {@value #DELIVERY_TIMEOUT_MS} ms ({@code delivery.timeout.ms}) before an append
 * fails, so a broker restart loses nothing that was acknowledged and, the producer being idempotent, writes nothing
 * twice. (Kafka keeps a producer's de-duplication state by record time: after a broker crash it forgets it for
 * records stamped more than {@code producer.id.expiration.ms}, a day by default, in the past, so a retried append
 * of such an old message, an import say, may be written twice.)
 *
 * <p>One tail consumer per stream, on a thread of its own (the dispatcher), reads the topic from where it ended at
 * open and hands every record to the taps in offset order, including what other nodes append. It also keeps
 * {@link #endOffset()} current (with the acknowledgements and a probe each second), so the end is never a network
 * round trip and never below an acknowledged append. Reads use a small pool of consumers of their own; a probe
 * reports to {@link EngineHealth} when Kafka stops answering and when it answers again. Records on the topic that are
 * not Junction messages (another producer wrote them) are skipped by reads and taps and counted
 * ({@code junction.stream.skipped}).
 */
public final class KafkaStream implements MessageStream {

    private static final Logger log = LoggerFactory.getLogger(KafkaStream.class);

    /** How long the producer retries an append while Kafka is away before failing it: a broker restart fits in it. */
    static final int DELIVERY_TIMEOUT_MS = 300_000;
    private static final Duration OPEN_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
    private static final long PROBE_INTERVAL_MILLIS = 1_000;
    private static final int PROBE_TIMEOUT_MILLIS = 2_000;
    /** How long a read waits for Kafka to answer before it fails (a broker restart fits in it). */
    private static final long READ_WAIT_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final long SIZE_CACHE_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final Duration CLOSE_FLUSH = Duration.ofSeconds(10);
    private static final int READERS = 2;
    private static final int READ_BATCH = 512;
    private static final Pattern TOPIC = Pattern.compile("[a-zA-Z0-9._-]{1,249}");

    /**
     * Where and how a stream lives on Kafka.
     *
     * @param bootstrap   {@code host:port[,host:port...]} of the brokers
     * @param topic       the topic that holds the stream (created with one partition when missing)
     * @param partitions  must be 1: the port's offsets are one total order, which Kafka gives within a partition only
     * @param replication the replication factor of a topic this stream creates
     * @param maxPending  how many appends may wait for Kafka's acknowledgement before {@code append} refuses more
     * @param properties  extra client properties (security settings, tuning) for the producer, consumers and admin
     */
    public record Settings(String bootstrap, String topic, int partitions, short replication, int maxPending,
                           Map<String, String> properties) {
        public Settings {
            if (bootstrap == null || bootstrap.isBlank()) {
                throw new IllegalArgumentException("kafka: bootstrap must name at least one broker as host:port");
            }
            if (topic == null || !TOPIC.matcher(topic).matches() || topic.equals(".") || topic.equals("..")) {
                throw new IllegalArgumentException("kafka: invalid topic name '" + topic
                        + "': use 1 to 249 letters, digits, '.', '_' and '-'");
            }
            if (replication < 1) {
                throw new IllegalArgumentException("kafka topic " + topic + ": replication must be at least 1, got " + replication);
            }
            if (maxPending < 1) {
                throw new IllegalArgumentException("kafka topic " + topic + ": maxPending must be at least 1, got " + maxPending);
            }
            properties = properties == null ? Map.of() : Map.copyOf(properties);
        }
    }

    private final String name;
    private final Settings settings;
    private final TopicPartition tp;
    private final EngineHealth health;
    private final Admin admin;
    private final KafkaProducer<byte[], byte[]> producer;
    private final KafkaConsumer<byte[], byte[]> tail;
    private final Reader[] readers = new Reader[READERS];
    private final Semaphore room;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** The offset the next record will get, as far as this node knows: never below an acknowledged append. */
    private final AtomicLong end = new AtomicLong();
    private final ReentrantLock tapsLock = new ReentrantLock();
    private volatile KafkaTap[] taps = new KafkaTap[0];
    /** The next offset the tail hands to the taps; the tail thread's, read by the lag gauge. */
    private volatile long dispatched;
    private volatile long start;
    private final AtomicBoolean healthy = new AtomicBoolean(true);
    private final ReentrantLock sizeLock = new ReentrantLock();
    private volatile long size;
    private volatile long sizeAtNanos;
    private volatile boolean sizeKnown;
    private long lastSkipLogNanos;
    private final Thread tailThread;
    private final Thread probeThread;

    private final MeterRegistry registry;
    private final Counter appends;
    private final Counter refused;
    private final Counter skipped;
    private final List<Meter> meters = new ArrayList<>();

    private KafkaStream(String name, Settings settings, MeterRegistry registry, EngineHealth health, Admin admin,
                        KafkaProducer<byte[], byte[]> producer, KafkaConsumer<byte[], byte[]> tail, long startOffset,
                        long endOffset) {
        this.name = name;
        this.settings = settings;
        this.tp = new TopicPartition(settings.topic(), 0);
        this.health = health;
        this.admin = admin;
        this.producer = producer;
        this.tail = tail;
        this.room = new Semaphore(settings.maxPending());
        this.start = startOffset;
        this.end.set(endOffset);
        this.dispatched = endOffset;
        for (int i = 0; i < READERS; i++) {
            readers[i] = new Reader(i);
        }
        this.registry = registry;
        this.appends = Counter.builder("junction.stream.appends").tag("stream", name)
                .description("Messages appended to the stream").register(registry);
        this.refused = Counter.builder("junction.stream.refused").tag("stream", name)
                .description("Appends refused at once because too many were waiting for the stream's storage").register(registry);
        this.skipped = Counter.builder("junction.stream.skipped").tag("stream", name)
                .description("Records on the stream's Kafka topic that are not Junction messages, skipped").register(registry);
        meters.add(appends);
        meters.add(refused);
        meters.add(skipped);
        meters.add(Gauge.builder("junction.stream.pending", this, s -> s.settings.maxPending() - s.room.availablePermits())
                .tag("stream", name).description("Appends waiting for Kafka's acknowledgement").register(registry));
        meters.add(Gauge.builder("junction.stream.bytes", this, KafkaStream::sizeBytes).tag("stream", name)
                .description("Bytes the stream takes on Kafka's disks (all replicas)").baseUnit("bytes").register(registry));
        meters.add(Gauge.builder("junction.stream.dispatch.lag", this, s -> Math.max(0, s.end.get() - s.dispatched))
                .tag("stream", name).description("Durable entries not yet handed to the stream's taps").register(registry));
        this.tailThread = Thread.ofPlatform().name("junction-kafka-" + name + "-tail").daemon(true).unstarted(this::runTail);
        this.probeThread = Thread.ofVirtual().name("junction-kafka-" + name + "-probe").unstarted(this::runProbe);
    }

    /**
     * Opens the stream {@code streamName} on the topic {@code settings.topic()}, creating the topic (one partition,
     * {@code settings.replication()} replicas) when it is missing. Fails with {@link IllegalArgumentException} when
     * the settings ask for more than one partition, and with {@link IllegalStateException} when Kafka does not answer
     * within 10 seconds ({@code "kafka at <bootstrap> does not answer: ..."}) or the topic exists with more than one
     * partition.
     */
    public static KafkaStream open(String streamName, Settings settings, MeterRegistry metrics, EngineHealth health) {
        Objects.requireNonNull(streamName, "streamName");
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(metrics, "metrics");
        Objects.requireNonNull(health, "health");
        if (settings.partitions() != 1) {
            throw new IllegalArgumentException("stream '" + streamName + "' on kafka topic " + settings.topic()
                    + ": partitions must be 1, got " + settings.partitions() + ". A stream's offsets are one dense, totally "
                    + "ordered sequence (0, 1, 2, ...), which Kafka gives only within one partition");
        }
        Admin admin = null;
        KafkaProducer<byte[], byte[]> producer = null;
        KafkaConsumer<byte[], byte[]> tail = null;
        try {
            admin = Admin.create(adminProps(settings, streamName));
            String cluster = answer(admin.describeCluster(new DescribeClusterOptions()
                    .timeoutMs((int) OPEN_TIMEOUT.toMillis())).clusterId(), settings, OPEN_TIMEOUT);
            ensureTopic(admin, streamName, settings);
            TopicPartition tp = new TopicPartition(settings.topic(), 0);
            long startOffset = answer(admin.listOffsets(Map.of(tp, OffsetSpec.earliest()), listOptions(CALL_TIMEOUT))
                    .partitionResult(tp), settings, CALL_TIMEOUT).offset();
            long endOffset = answer(admin.listOffsets(Map.of(tp, OffsetSpec.latest()), listOptions(CALL_TIMEOUT))
                    .partitionResult(tp), settings, CALL_TIMEOUT).offset();
            producer = new KafkaProducer<>(producerProps(settings, streamName));
            warmMetadata(producer, settings);
            tail = new KafkaConsumer<>(consumerProps(settings, streamName + "-tail", 1_000));
            tail.assign(List.of(tp));
            tail.seek(tp, endOffset);
            KafkaStream stream = new KafkaStream(streamName, settings, metrics, health, admin, producer, tail,
                    startOffset, endOffset);
            stream.tailThread.start();
            stream.probeThread.start();
            health.up();
            log.info("stream={} opened kafka={} topic={} cluster={} start={} end={} maxPending={}", streamName,
                    settings.bootstrap(), settings.topic(), cluster, startOffset, endOffset, settings.maxPending());
            return stream;
        } catch (RuntimeException e) {
            if (tail != null) {
                tail.close(CloseOptions.timeout(Duration.ZERO));
            }
            if (producer != null) {
                producer.close(Duration.ZERO);
            }
            if (admin != null) {
                admin.close(Duration.ZERO);
            }
            throw e;
        }
    }

    private static void ensureTopic(Admin admin, String streamName, Settings settings) {
        String topic = settings.topic();
        for (int attempt = 0; ; attempt++) {
            TopicDescription described;
            try {
                described = answer(admin.describeTopics(List.of(topic), new DescribeTopicsOptions()
                        .timeoutMs((int) CALL_TIMEOUT.toMillis())).topicNameValues().get(topic), settings, CALL_TIMEOUT);
            } catch (IllegalStateException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || attempt > 5) {
                    throw e;
                }
                if (attempt > 0) {
                    sleep(200); // created a moment ago: the metadata is on its way to the broker that answered
                }
                NewTopic create = new NewTopic(topic, 1, settings.replication()).configs(Map.of(
                        "message.timestamp.type", "CreateTime",
                        // Like the embedded log, take a message whatever its time says; the default refuses a message
                        // more than an hour ahead of the broker's clock, and with it the whole batch it travels in.
                        "message.timestamp.after.max.ms", String.valueOf(Long.MAX_VALUE),
                        // Like the embedded log, keep every message: Kafka's default deletes after 7 days, under
                        // followers whose committed offsets still point there. Operators may set their own retention.
                        "retention.ms", "-1"));
                try {
                    answer(admin.createTopics(List.of(create)).all(), settings, CALL_TIMEOUT);
                    log.info("stream={} created kafka topic={} partitions=1 replication={}", streamName, topic,
                            settings.replication());
                } catch (IllegalStateException created) {
                    if (!(created.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("stream '" + streamName + "': cannot create kafka topic " + topic
                                + " at " + settings.bootstrap() + ": " + reason(created.getCause()), created.getCause());
                    }
                }
                continue;
            }
            int partitions = described.partitions().size();
            if (partitions != 1) {
                throw new IllegalStateException("stream '" + streamName + "': kafka topic " + topic + " at "
                        + settings.bootstrap() + " has " + partitions + " partitions; a stream needs a topic with exactly "
                        + "one, because its offsets are one dense, totally ordered sequence. Use another topic, or "
                        + "delete this one so that Junction creates it");
            }
            return;
        }
    }

    /** Asks the producer for the topic's metadata until it has it, so that no append ever waits for it. */
    private static void warmMetadata(KafkaProducer<byte[], byte[]> producer, Settings settings) {
        long deadline = System.nanoTime() + OPEN_TIMEOUT.toNanos();
        while (true) {
            try {
                producer.partitionsFor(settings.topic());
                return;
            } catch (TimeoutException e) {
                // max.block.ms is 0: the request went out; look again shortly.
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("kafka at " + settings.bootstrap() + " does not answer: no metadata for topic "
                            + settings.topic() + " within " + OPEN_TIMEOUT.toSeconds() + " s", e);
                }
                sleep(20);
            }
        }
    }

    /** The value of a Kafka future, or an {@link IllegalStateException} saying that Kafka does not answer and why. */
    private static <T> T answer(KafkaFuture<T> future, Settings settings, Duration timeout) {
        try {
            return future.get(timeout.toMillis() + 500, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("kafka at " + settings.bootstrap() + " does not answer: " + reason(e.getCause()),
                    e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("kafka at " + settings.bootstrap() + " does not answer: no answer within "
                    + timeout.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for kafka at " + settings.bootstrap(), e);
        }
    }

    private static String reason(Throwable t) {
        return t == null ? "unknown" : t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    private static ListOffsetsOptions listOptions(Duration timeout) {
        return new ListOffsetsOptions().timeoutMs((int) timeout.toMillis());
    }

    // ---- client settings ----

    private static Map<String, Object> common(Settings settings) {
        Map<String, Object> p = new HashMap<>();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrap());
        return p;
    }

    private static Map<String, Object> adminProps(Settings settings, String streamName) {
        Map<String, Object> p = common(settings);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) CALL_TIMEOUT.toMillis());
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) CALL_TIMEOUT.toMillis());
        p.putAll(settings.properties());
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "junction-" + streamName + "-admin");
        return p;
    }

    private static Map<String, Object> producerProps(Settings settings, String streamName) {
        Map<String, Object> p = common(settings);
        // Small batches, sent within a millisecond: an append is acknowledged to a device only once Kafka has it.
        p.put(ProducerConfig.LINGER_MS_CONFIG, 1);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 64 * 1024);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, DELIVERY_TIMEOUT_MS);
        // Keep the topic's metadata however long the stream is idle: without it a send would have to wait for it.
        p.put(ProducerConfig.METADATA_MAX_IDLE_CONFIG, TimeUnit.DAYS.toMillis(30));
        // Keep what it knows while every broker is away: re-bootstrapping (Kafka 4's default) forgets the topic, and
        // then appends are refused at once instead of waiting, up to maxPending, for the brokers to come back.
        p.put(CommonClientConfigs.METADATA_RECOVERY_STRATEGY_CONFIG, "none");
        p.putAll(settings.properties());
        // What the stream's guarantees rest on, whatever the extra properties say.
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "junction-" + streamName + "-producer");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        p.put(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 0);
        return p;
    }

    private static Map<String, Object> consumerProps(Settings settings, String clientName, int maxPollRecords) {
        Map<String, Object> p = common(settings);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, maxPollRecords);
        p.putAll(settings.properties());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "junction-" + clientName);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // Never skip ahead: a position before the oldest kept record moves to it, never to the end.
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return p;
    }

    // ---- appends ----

    @Override
    public String name() {
        return name;
    }

    @Override
    public CompletableFuture<Long> append(Message message) {
        Objects.requireNonNull(message, "message");
        if (closed.get()) {
            return CompletableFuture.failedFuture(closedException());
        }
        if (!room.tryAcquire()) {
            refused.increment();
            return CompletableFuture.failedFuture(new StreamFullException(name));
        }
        return send(message);
    }

    @Override
    public CompletableFuture<Long> appendWaiting(Message message) {
        Objects.requireNonNull(message, "message");
        try {
            while (!room.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                if (closed.get()) {
                    return CompletableFuture.failedFuture(closedException());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return CompletableFuture.failedFuture(new IllegalStateException(
                    "stream '" + name + "': interrupted while waiting for room to append", e));
        }
        if (closed.get()) {
            room.release();
            return CompletableFuture.failedFuture(closedException());
        }
        return send(message);
    }

    /** Hands the message to the producer; the caller holds one permit of {@link #room}, which the append gives back. */
    private CompletableFuture<Long> send(Message message) {
        Append a = new Append();
        try {
            ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(tp.topic(), 0, message.ts(),
                    RecordCodec.key(message), RecordCodec.value(message));
            a.sending = true;
            producer.send(record, a);
        } catch (RuntimeException e) {
            a.onCompletion(null, e);
        } finally {
            a.sending = false;
        }
        return a;
    }

    /** The future an append returns, and the producer's callback that completes it: one object per append. */
    private final class Append extends CompletableFuture<Long> implements Callback {
        /** True while {@code send} runs: a callback then is a refusal by the producer, not an answer from Kafka. */
        volatile boolean sending;
        private final AtomicBoolean settled = new AtomicBoolean();

        @Override
        public void onCompletion(RecordMetadata metadata, Exception e) {
            if (!settled.compareAndSet(false, true)) {
                return;
            }
            room.release();
            if (e == null) {
                long offset = metadata.offset();
                raiseEnd(offset + 1);
                appends.increment();
                complete(offset);
            } else if (sending && (e instanceof BufferExhaustedException || e instanceof TimeoutException)) {
                // The producer could not take it without waiting (no room in its buffer, or no metadata): push back.
                refused.increment();
                StreamFullException full = new StreamFullException(name);
                full.initCause(e);
                completeExceptionally(full);
            } else if (closed.get()) {
                completeExceptionally(new IllegalStateException("stream '" + name + "' is closed; the message was not "
                        + "acknowledged by kafka at " + settings.bootstrap() + ": " + e.getMessage(), e));
            } else {
                completeExceptionally(new IllegalStateException("stream '" + name + "': kafka at " + settings.bootstrap()
                        + " did not take the message: " + reason(e), e));
            }
        }
    }

    private void raiseEnd(long candidate) {
        long now = end.get();
        while (candidate > now && !end.compareAndSet(now, candidate)) {
            now = end.get();
        }
    }

    // ---- reads ----

    @Override
    public List<StreamEntry> read(long fromOffset, int max) {
        if (closed.get()) {
            throw closedException();
        }
        long known = end.get();
        if (max <= 0 || fromOffset >= known) {
            return List.of();
        }
        long from = Math.max(0, fromOffset);
        Reader r = lockReader(from);
        try {
            return r.read(from, max, known);
        } finally {
            r.lock.unlock();
        }
    }

    /** A reader, locked: preferably one already positioned at {@code from} (a follower reading on), else a free one. */
    private Reader lockReader(long from) {
        for (Reader r : readers) {
            if (r.next == from && r.lock.tryLock()) {
                return r;
            }
        }
        for (Reader r : readers) {
            if (r.lock.tryLock()) {
                return r;
            }
        }
        Reader r = readers[(int) (from % READERS)];
        r.lock.lock();
        return r;
    }

    @Override
    public long offsetAt(long epochMillis) {
        if (closed.get()) {
            throw closedException();
        }
        long at = answer(admin.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(Math.max(0, epochMillis))),
                listOptions(CALL_TIMEOUT)).partitionResult(tp), settings, CALL_TIMEOUT).offset();
        return at < 0 ? endOffset() : at;
    }

    @Override
    public long endOffset() {
        return end.get();
    }

    @Override
    public long startOffset() {
        if (closed.get()) {
            return start;
        }
        try {
            start = answer(admin.listOffsets(Map.of(tp, OffsetSpec.earliest()), listOptions(CALL_TIMEOUT))
                    .partitionResult(tp), settings, CALL_TIMEOUT).offset();
        } catch (IllegalStateException e) {
            log.debug("stream={} start offset unknown, using the last one known ({}): {}", name, start, e.getMessage());
        }
        return start;
    }

    /** Bytes of the topic on the brokers' disks, all replicas; asked at most every five seconds. */
    @Override
    public long sizeBytes() {
        long now = System.nanoTime();
        if ((sizeKnown && now - sizeAtNanos < SIZE_CACHE_NANOS) || closed.get() || !sizeLock.tryLock()) {
            return size;
        }
        try {
            List<Integer> brokers = new ArrayList<>();
            for (Node n : answer(admin.describeCluster(new DescribeClusterOptions().timeoutMs(PROBE_TIMEOUT_MILLIS)).nodes(),
                    settings, CALL_TIMEOUT)) {
                brokers.add(n.id());
            }
            Map<Integer, Map<String, LogDirDescription>> dirs = answer(admin.describeLogDirs(brokers,
                    new DescribeLogDirsOptions().timeoutMs(PROBE_TIMEOUT_MILLIS)).allDescriptions(), settings, CALL_TIMEOUT);
            long total = 0;
            for (Map<String, LogDirDescription> byDir : dirs.values()) {
                for (LogDirDescription d : byDir.values()) {
                    ReplicaInfo replica = d.replicaInfos().get(tp);
                    if (replica != null) {
                        total += replica.size();
                    }
                }
            }
            size = total;
            sizeKnown = true;
        } catch (IllegalStateException e) {
            log.debug("stream={} size unknown, using the last one known ({}): {}", name, size, e.getMessage());
        } finally {
            sizeAtNanos = System.nanoTime();
            sizeLock.unlock();
        }
        return size;
    }

    /** One consumer for reads, used under its lock (a Kafka consumer is not thread-safe). */
    private final class Reader {
        final ReentrantLock lock = new ReentrantLock();
        private final int index;
        private volatile KafkaConsumer<byte[], byte[]> consumer;
        /** Records polled but not handed out yet, from {@link #at} on. */
        private List<ConsumerRecord<byte[], byte[]>> buffered = List.of();
        private int at;
        /** The offset the next record from {@link #buffered}, then from the consumer, comes at or after; -1 unknown. */
        volatile long next = -1;

        Reader(int index) {
            this.index = index;
        }

        List<StreamEntry> read(long from, int max, long known) {
            if (closed.get()) {
                throw closedException();
            }
            try {
                if (consumer == null) {
                    consumer = new KafkaConsumer<>(consumerProps(settings, name + "-reader-" + index, READ_BATCH));
                    consumer.assign(List.of(tp));
                }
                if (next != from) {
                    buffered = List.of();
                    at = 0;
                    consumer.seek(tp, from);
                    next = from;
                }
                return take(from, max, known);
            } catch (RuntimeException e) {
                next = -1;
                buffered = List.of();
                if (closed.get()) {
                    throw closedException();
                }
                if (e instanceof IllegalStateException) {
                    throw e;
                }
                throw new IllegalStateException("stream '" + name + "': cannot read kafka topic " + tp.topic() + " at "
                        + settings.bootstrap() + " from offset " + from + ": " + reason(e), e);
            }
        }

        private List<StreamEntry> take(long from, int max, long known) {
            List<StreamEntry> out = new ArrayList<>(Math.min(max, READ_BATCH));
            long deadline = System.nanoTime() + READ_WAIT_NANOS;
            while (true) {
                while (at < buffered.size() && out.size() < max) {
                    ConsumerRecord<byte[], byte[]> r = buffered.get(at++);
                    if (r.offset() < from) {
                        continue;
                    }
                    next = r.offset() + 1;
                    Message m = decode(r, false);
                    if (m != null) {
                        out.add(new StreamEntry(r.offset(), m));
                    }
                }
                if (out.size() >= max || next >= known) {
                    raiseEnd(next);
                    return out;
                }
                ConsumerRecords<byte[], byte[]> polled = consumer.poll(Duration.ofMillis(100));
                buffered = polled.records(tp);
                at = 0;
                if (buffered.isEmpty()) {
                    if (!out.isEmpty()) {
                        return out;
                    }
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("stream '" + name + "': kafka at " + settings.bootstrap()
                                + " gave nothing from offset " + from + " (end " + known + ") within "
                                + TimeUnit.NANOSECONDS.toSeconds(READ_WAIT_NANOS) + " s");
                    }
                }
            }
        }

        void wakeup() {
            KafkaConsumer<byte[], byte[]> c = consumer;
            if (c != null) {
                c.wakeup();
            }
        }

        void close() {
            lock.lock();
            try {
                if (consumer != null) {
                    consumer.close(CloseOptions.timeout(Duration.ZERO));
                    consumer = null;
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** The message a record holds, or null (counted and logged by the tail) when it holds none. */
    private Message decode(ConsumerRecord<byte[], byte[]> r, boolean count) {
        try {
            return RecordCodec.decode(r.value());
        } catch (RecordCodec.NotAMessageException e) {
            if (count) {
                skipped.increment();
                long now = System.nanoTime();
                if (lastSkipLogNanos == 0 || now - lastSkipLogNanos > TimeUnit.MINUTES.toNanos(1)) {
                    lastSkipLogNanos = now;
                    log.warn("stream={} topic={} offset={} skipped a record that is not a Junction message ({} so far; "
                            + "logged at most once a minute): {}", name, tp.topic(), r.offset(), (long) skipped.count(),
                            e.getMessage());
                }
            }
            return null;
        }
    }

    // ---- taps: the tail consumer ----

    @Override
    public Tap tap(Consumer<StreamEntry> listener) {
        Objects.requireNonNull(listener, "listener");
        tapsLock.lock();
        try {
            // Taken together with the tail's look at the taps (see runTail): it gets every record from this end on.
            KafkaTap tap = new KafkaTap(listener, end.get());
            KafkaTap[] now = Arrays.copyOf(taps, taps.length + 1);
            now[now.length - 1] = tap;
            taps = now;
            return tap;
        } finally {
            tapsLock.unlock();
        }
    }

    /** Reads the topic from its end at open on and hands every record to the taps in offset order. */
    private void runTail() {
        boolean failing = false;
        try {
            while (!closed.get()) {
                List<ConsumerRecord<byte[], byte[]>> records;
                KafkaTap[] current;
                try {
                    ConsumerRecords<byte[], byte[]> polled = tail.poll(Duration.ofMillis(500));
                    records = polled.records(tp);
                    long highWatermark = highWatermark();
                    tapsLock.lock();
                    try {
                        // The end moves before the taps see the records: a tap never sees an entry beyond the end, and a
                        // tap registered after this look starts after these records.
                        if (!records.isEmpty()) {
                            raiseEnd(records.getLast().offset() + 1);
                        }
                        raiseEnd(highWatermark);
                        current = taps;
                    } finally {
                        tapsLock.unlock();
                    }
                    if (failing) {
                        failing = false;
                        log.info("stream={} tail reads kafka topic={} again at offset={}", name, tp.topic(), dispatched);
                    }
                } catch (WakeupException e) {
                    continue;
                } catch (RuntimeException e) {
                    if (closed.get()) {
                        break;
                    }
                    if (!failing) {
                        failing = true;
                        log.warn("stream={} tail cannot read kafka topic={} at offset={} (retrying): {}", name, tp.topic(),
                                dispatched, e.toString());
                    }
                    sleep(1_000);
                    continue;
                }
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    Message m = decode(r, true);
                    if (m != null) {
                        StreamEntry entry = new StreamEntry(r.offset(), m);
                        for (KafkaTap t : current) {
                            t.deliver(entry);
                        }
                    }
                    dispatched = r.offset() + 1;
                }
            }
        } finally {
            tail.close(CloseOptions.timeout(Duration.ZERO));
        }
    }

    /** What the tail's last fetch said the readable end is (no network call), or -1 when it does not know. */
    private long highWatermark() {
        OptionalLong lag = tail.currentLag(tp);
        if (lag.isEmpty()) {
            return -1;
        }
        try {
            return tail.position(tp, Duration.ZERO) + lag.getAsLong();
        } catch (TimeoutException e) {
            return -1; // the position awaits validation (a new leader): the next poll settles it
        }
    }

    /** Tells {@link EngineHealth} each second whether Kafka answers; the answer also keeps the end current. */
    private void runProbe() {
        while (!closed.get()) {
            try {
                long latest = admin.listOffsets(Map.of(tp, OffsetSpec.latest()), listOptions(Duration.ofMillis(PROBE_TIMEOUT_MILLIS)))
                        .partitionResult(tp).get(PROBE_TIMEOUT_MILLIS + 500L, TimeUnit.MILLISECONDS).offset();
                raiseEnd(latest);
                if (!healthy.getAndSet(true)) {
                    log.info("stream={} kafka={} answers again", name, settings.bootstrap());
                    health.up();
                }
            } catch (InterruptedException e) {
                return;
            } catch (ExecutionException | java.util.concurrent.TimeoutException | RuntimeException e) {
                if (closed.get()) {
                    return;
                }
                Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
                String reason = "kafka at " + settings.bootstrap() + ": " + (cause instanceof java.util.concurrent.TimeoutException
                        ? "no answer within " + PROBE_TIMEOUT_MILLIS + " ms" : reason(cause));
                if (healthy.getAndSet(false)) {
                    log.warn("stream={} {}; appends wait for it (refused once {} are waiting)", name, reason,
                            settings.maxPending());
                }
                health.down(reason);
            }
            try {
                Thread.sleep(PROBE_INTERVAL_MILLIS);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private final class KafkaTap implements Tap {
        private final Consumer<StreamEntry> listener;
        /** The first offset it is handed: the end when it was registered. */
        private final long from;
        private volatile boolean closed;
        private boolean warned;

        KafkaTap(Consumer<StreamEntry> listener, long from) {
            this.listener = listener;
            this.from = from;
        }

        void deliver(StreamEntry entry) {
            if (closed || entry.offset() < from) {
                return;
            }
            try {
                listener.accept(entry);
            } catch (RuntimeException e) {
                if (!warned) {
                    warned = true;
                    log.warn("stream={} a tap failed at offset={} (further failures of this tap are not logged): {}",
                            name, entry.offset(), e.toString(), e);
                }
            }
        }

        @Override
        public void close() {
            closed = true;
            tapsLock.lock();
            try {
                KafkaTap[] current = taps;
                int found = -1;
                for (int i = 0; i < current.length; i++) {
                    if (current[i] == this) {
                        found = i;
                    }
                }
                if (found < 0) {
                    return;
                }
                KafkaTap[] now = new KafkaTap[current.length - 1];
                System.arraycopy(current, 0, now, 0, found);
                System.arraycopy(current, found + 1, now, found, current.length - found - 1);
                taps = now;
            } finally {
                tapsLock.unlock();
            }
        }
    }

    // ---- closing ----

    /**
     * Stops taking appends, waits (at most ten seconds) for Kafka to acknowledge those already sent, completing their
     * futures (what is still unacknowledged then fails), lets the taps see what was acknowledged (at most two seconds
     * more), and closes the clients. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        producer.close(CLOSE_FLUSH);
        long target = end.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (taps.length > 0 && dispatched < target && System.nanoTime() < deadline
                && Thread.currentThread() != tailThread) {
            sleep(10);
        }
        tail.wakeup();
        probeThread.interrupt();
        if (Thread.currentThread() != tailThread) {
            join(tailThread);
        }
        join(probeThread);
        for (Reader r : readers) {
            r.wakeup();
        }
        for (Reader r : readers) {
            r.close();
        }
        admin.close(Duration.ofSeconds(5));
        for (Meter m : meters) {
            registry.remove(m);
        }
        log.info("stream={} closed kafka={} topic={} end={}", name, settings.bootstrap(), tp.topic(), end.get());
    }

    private static void join(Thread t) {
        try {
            if (!t.join(Duration.ofSeconds(5))) {
                log.warn("thread={} did not stop within 5 s", t.getName());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("stream '" + name + "' is closed");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
