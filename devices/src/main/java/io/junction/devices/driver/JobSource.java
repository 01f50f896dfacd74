package io.junction.devices.driver;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * A driver that offers jobs (timed sequences of its own functions, such as {@code water} for 5 minutes) implements
 * this; each job is written in the same JSON shape as a {@code [[jobs]]} config section, without {@code driver}.
 * It is called once on a fresh instance when the driver is loaded.
 */
public interface JobSource {

    List<ObjectNode> jobs();
}
