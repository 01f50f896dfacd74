package io.junction.bench;

import java.io.PrintStream;

/** The engine benchmark (being written). */
final class EngineBench {

    private EngineBench() {
    }

    static int run(String[] args, PrintStream out) {
        out.println("bench engine: not available yet");
        return 2;
    }
}
