package io.junction.bench;

import java.io.PrintStream;

/** The telemetry benchmark (being written). */
final class TelemetryBench {

    private TelemetryBench() {
    }

    static int run(String[] args, PrintStream out) {
        out.println("bench telemetry: not available yet");
        return 2;
    }
}
