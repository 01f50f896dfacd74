package io.junction.server;

import io.junction.core.config.JunctionConfig;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One real server shared by a test class's tests: register it as a static {@code @RegisterExtension} field; it starts
 * from the class's config before the class's {@code @BeforeAll} methods (after its static {@code @TempDir} is set)
 * and closes after the class's {@code @AfterAll} methods.
 */
public final class RunningServer implements BeforeAllCallback, AfterAllCallback {

    /** Builds the config once the class's static fields (its temp dir) are ready; may write files first. */
    @FunctionalInterface
    public interface ConfigSource {
        JunctionConfig config() throws Exception;
    }

    private final ConfigSource source;
    private Junction node;

    public RunningServer(ConfigSource source) {
        this.source = source;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        node = Junction.start(source.config());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (node != null) {
            node.close();
            node = null;
        }
    }

    public Junction node() {
        return node;
    }

    public int mqtt() {
        return node.mqttPort();
    }

    public int http() {
        return node.httpPort();
    }
}
