package io.junction.media.workflow;


import java.util.Map;

/**
 * {@code rtmp_receive}: which publishes the workflow accepts is read from its definition by the workflow manager
 * when a client publishes; here the publisher's media just enters the chain.
 */
final class ReceiveStep implements Step {

    @Override
    public void start() {
    }

    @Override
    public void stop() {
    }

    @Override
    public Map<String, Object> info() {
        return Map.of();
    }
}
