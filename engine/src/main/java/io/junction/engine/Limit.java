package io.junction.engine;

/** The limits a call of a script runs under. */
enum Limit {
    TIME("time limit"),
    MEMORY("memory limit");

    final String label;

    Limit(String label) {
        this.label = label;
    }
}
