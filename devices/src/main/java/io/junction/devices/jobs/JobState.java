package io.junction.devices.jobs;

import java.util.Optional;

/**
 * Where a job is in its life. A job is {@code running} until it ends; {@code stopping} while its neutral calls run
 * before it ends as {@code cancelled}, {@code failed}, {@code module-stopped} or {@code expired}. A job that ran every
 * step ends {@code done}.
 */
public enum JobState {
    /** Steps are running or due. */
    RUNNING("running"),
    /** Its neutral calls are running; it ends in the state it stops as. */
    STOPPING("stopping"),
    /** Every step ran. */
    DONE("done"),
    /** A step (or the re-apply after a restart) failed; the neutral calls ran. */
    FAILED("failed"),
    /** Someone cancelled it; the neutral calls ran. */
    CANCELLED("cancelled"),
    /** Its module stopped or was deleted; the neutral calls ran while the module still answered. */
    MODULE_STOPPED("module-stopped"),
    /** Its deadline passed while the server was down; the neutral calls ran at once on start. */
    EXPIRED("expired");

    private final String word;

    JobState(String word) {
        this.word = word;
    }

    /** The name in the API and the journal: {@code running}, {@code module-stopped}, ... */
    public String word() {
        return word;
    }

    /** Whether the job has ended. */
    public boolean ended() {
        return this != RUNNING && this != STOPPING;
    }

    public static Optional<JobState> parse(String word) {
        for (JobState s : values()) {
            if (s.word.equals(word)) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }
}
