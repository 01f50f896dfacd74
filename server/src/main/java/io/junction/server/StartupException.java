package io.junction.server;

/** The server cannot start for a reason outside the config file (a port in use, a locked data directory, ...). */
public final class StartupException extends RuntimeException {

    public StartupException(String message, Throwable cause) {
        super(message, cause);
    }
}
