package io.junction.core.testing;

import org.junit.jupiter.api.Assumptions;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;

/**
 * Finds the external programs tests drive (mosquitto_pub, ffmpeg, ...). Under CI ({@code CI=true}) a missing program
 * fails the test with what to install; elsewhere the test is skipped with the same sentence.
 */
public final class Tools {

    private Tools() {
    }

    /** The path of {@code program} on PATH, or the test stops here (failed under CI, skipped elsewhere). */
    public static String require(String program, String debianPackage) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String dir : path.split(File.pathSeparator)) {
            File f = new File(dir, program);
            if (f.canExecute()) {
                return f.getAbsolutePath();
            }
        }
        return missing(program + " is not installed: install it with 'apt-get install " + debianPackage + "'");
    }

    /** Stops the test because something it needs is missing: failed under CI ({@code CI=true}), skipped elsewhere. */
    public static <T> T missing(String whatToInstall) {
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new AssertionError(whatToInstall);
        }
        return Assumptions.abort(whatToInstall);
    }

    /** A TCP port that was free a moment ago, for a server started in another process. */
    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("no free TCP port: " + e.getMessage(), e);
        }
    }
}
