package io.junction.devices.jobs;

import java.util.Optional;

/** Where one step of a job is. */
public enum StepStatus {
    /** Not yet due, or due and about to run. */
    PENDING("pending"),
    /** A call that began and has not answered yet. */
    RUNNING("running"),
    /** A wait in progress. */
    WAITING("waiting"),
    /** A call that answered, or a wait that ran its full time. */
    DONE("done"),
    /** A call that answered with an error. */
    FAILED("failed"),
    /** A call that began before the server stopped and never answered: its outcome is unknown, and it is not run again. */
    INTERRUPTED("interrupted"),
    /** Not run because the job ended first. */
    SKIPPED("skipped"),
    /** A wait that the job's end cut short. */
    CUT_SHORT("cut-short");

    private final String word;

    StepStatus(String word) {
        this.word = word;
    }

    public String word() {
        return word;
    }

    static Optional<StepStatus> parse(String word) {
        for (StepStatus s : values()) {
            if (s.word.equals(word)) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }
}
