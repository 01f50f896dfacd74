package io.junction.engine;

import io.junction.core.hub.EventHub;
import io.junction.core.status.StatusStore;
import io.junction.core.stream.MessageStream;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Optional;
import java.util.concurrent.Semaphore;

/**
 * What every script actor and replay of one engine shares: the streams, the store, the limits and the counters.
 *
 * @param calls   exec on modules; without it a script's exec fails with a message saying so
 * @param permits how many scripts may run messages at the same moment ({@code [engine] threads})
 */
record Shared(MessageStream raw, MessageStream processed, Optional<StatusStore> status, Optional<EventHub> hub,
              Optional<io.junction.core.device.FunctionCalls> calls, ScriptStore store, Runtimes runtimes, Watchdog watchdog, Semaphore permits, int failuresBeforeSuspend,
              Dispatcher dispatcher, Meters meters) {

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

    void publish(ScriptEvent event) {
        hub.ifPresent(h -> h.publish(event));
    }
}
