package io.junction.core.config;

/** A configuration that cannot be used; the message says where (file, line, key) and what is expected. */
public final class ConfigException extends RuntimeException {

    public ConfigException(String message) {
        super(message);
    }
}
