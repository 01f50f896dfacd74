package io.junction.engine;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/**
 * A script as {@code GET /api/scripts/{name}} shows it.
 *
 * @param state        {@code starting}, {@code running}, {@code suspended} (after repeated failures; storing a new
 *                     version resumes it), {@code failed} (it cannot start or the processed stream refused its output)
 *                     or {@code stopped}
 * @param reason       why it is suspended or failed; empty otherwise
 * @param offset       the next raw-stream offset it will look at
 * @param lag          raw messages after {@code offset}
 * @param versionSince the raw offset from which this version processes messages
 * @param source       the source text (JavaScript, Python); null for WASM and in lists
 * @param sha256       the SHA-256 of the source or module, in hex
 * @param owner        who stored it: its {@code exec} calls run as this user, with this role
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ScriptInfo(String name, String language, List<String> bind, String origin, long version, String stored,
                         String state, String reason, long offset, long lag, long versionSince, Counters counters,
                         Failure lastError, List<Failure> recentErrors, List<String> logs,
                         ReplayInfo replay, String sha256, int bytes, String source, Owner owner) {

    /** The user a script acts as, and their role. */
    public record Owner(String user, String role) {
    }

    /**
     * @param in                 messages the script ran (or tried to)
     * @param out                messages it appended to the processed stream
     * @param failed             messages recorded as failed
     * @param timeLimitStops     calls stopped by the time limit
     * @param memoryLimitStops   calls stopped by the memory limit
     * @param duplicatesSkipped  outputs not appended again after a restart because they were already there
     */
    /**
     * A message that failed.
     *
     * @param offset its raw-stream offset
     * @param reason the script's error, or the limit that stopped it
     * @param line   the line of the script the error is on; 0 when unknown
     * @param at     when it failed (ISO-8601)
     */
    public record Failure(long offset, String id, String key, String reason, int line, String at) {
    }

    public record Counters(long in, long out, long failed, long timeLimitStops, long memoryLimitStops, long duplicatesSkipped) {
    }
}
