package io.junction.engine;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * A replay as the API shows it.
 *
 * @param state    {@code running}, {@code done}, {@code failed} or {@code cancelled}
 * @param from     the first raw offset replayed
 * @param to       the raw offset it stops before (the end of the raw stream when it was asked for)
 * @param position the next raw offset it will read
 * @param matched  raw messages that matched the script's patterns and were run
 * @param outputs  messages appended to the processed stream (kind {@code replayed})
 * @param failed   messages that failed
 * @param rate     raw messages read per second so far
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ReplayInfo(String script, String state, long from, long to, long position, long matched, long outputs,
                         long failed, double rate, String error, String startedAt, String finishedAt) {

    /** True once it is no longer running. */
    public boolean done() {
        return !state.equals("running");
    }
}
