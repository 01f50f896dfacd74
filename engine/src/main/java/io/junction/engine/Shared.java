package io.junction.engine;

import io.junction.core.hub.EventHub;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.MessageStream;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Optional;
import java.util.concurrent.Semaphore;

/**
 * What every script actor and replay of one engine shares: the streams, the store, the limits, the threads script
 * code runs on and the counters.
 *
 * @param calls         exec on modules; without it a script's exec fails with a message saying so
 * @param offsets       where the scripts' followers commit, off their own threads
 * @param workers       where scripts run messages: {@code [engine] threads} platform threads
 * @param loader        where scripts are loaded and freed: one platform thread, so a slow load holds up no message
 * @param replayPermits how many replays may run at the same moment ({@code [engine] threads})
 */
record Shared(MessageStream raw, MessageStream processed, Optional<StatusStore> status, Optional<EventHub> hub,
              Optional<io.junction.core.device.FunctionCalls> calls, ScriptStore store, OffsetWriter offsets, Runtimes runtimes, Watchdog watchdog,
              Workers workers, Workers loader, Semaphore replayPermits, int threads, int failuresBeforeSuspend,
              long timeLimitMillis, Meters meters) {

    /** The engine's metrics: messages by result, outputs, and limit stops. */
    record Meters(Counter ok, Counter failed, Counter outputs, Counter timeLimit, Counter memoryLimit) {
        static Meters register(MeterRegistry r) {
            return new Meters(
                    Counter.builder("junction.engine.messages").tag("result", "ok").description("Messages processed by scripts").register(r),
                    Counter.builder("junction.engine.messages").tag("result", "failed").description("Messages processed by scripts").register(r),
                    Counter.builder("junction.engine.outputs").description("Messages scripts appended to the processed stream").register(r),
                    Counter.builder("junction.engine.limit.stops").tag("limit", "time").description("Script calls stopped by a limit").register(r),
                    Counter.builder("junction.engine.limit.stops").tag("limit", "memory").description("Script calls stopped by a limit").register(r));
        }
    }

    /** What script {@code s} may reach; {@code live} false for a replay, which must not exec (it would drive devices again). */
    Host host(ScriptSource s, LogRing logs, boolean live) {
        return new Host(status, s.name(), s.bindValues(), logs, calls, s.owner(), timeLimitMillis, live);
    }

    void publish(ScriptEvent event) {
        hub.ifPresent(h -> h.publish(event));
    }
}
