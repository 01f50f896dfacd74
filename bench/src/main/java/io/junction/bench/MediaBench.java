package io.junction.bench;

import java.io.PrintStream;

/** The media benchmark (being written). */
final class MediaBench {

    private MediaBench() {
    }

    static int run(String[] args, PrintStream out) {
        out.println("bench media: not available yet");
        return 2;
    }
}
