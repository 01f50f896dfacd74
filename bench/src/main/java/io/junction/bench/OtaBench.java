package io.junction.bench;

import java.io.PrintStream;

/** The ota benchmark (being written). */
final class OtaBench {

    private OtaBench() {
    }

    static int run(String[] args, PrintStream out) {
        out.println("bench ota: not available yet");
        return 2;
    }
}
