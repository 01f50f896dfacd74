package io.junction.mqtt.broker;

import java.util.List;

/**
 * A user (usually a device) allowed to connect to the broker.
 *
 * <p>An authenticated client may publish and subscribe under {@code <deviceUid>/#}, plus the extra topic
 * filters listed here. A filter list containing {@code #} allows everything (for bridges and admin tools).
 *
 * @param passwordHash the password, hashed by {@code io.junction.core.auth.PasswordHash}
 * @param deviceUid the device uid; empty means "the user name"
 * @param publishFilters extra topic filters it may publish to
 * @param subscribeFilters extra topic filters it may subscribe to (a subscription must lie within one)
 */
public record BrokerUser(String passwordHash, String deviceUid, List<String> publishFilters, List<String> subscribeFilters) {

    public BrokerUser {
        if (passwordHash == null || deviceUid == null || publishFilters == null || subscribeFilters == null) {
            throw new IllegalArgumentException("BrokerUser fields must not be null (use \"\" and List.of())");
        }
        publishFilters = List.copyOf(publishFilters);
        subscribeFilters = List.copyOf(subscribeFilters);
    }

    /** A device whose uid is its user name, limited to its own {@code <uid>/#} topics. */
    public static BrokerUser device(String passwordHash) {
        return new BrokerUser(passwordHash, "", List.of(), List.of());
    }

    /** A device with its own uid, limited to its own {@code <uid>/#} topics. */
    public static BrokerUser device(String passwordHash, String deviceUid) {
        return new BrokerUser(passwordHash, deviceUid, List.of(), List.of());
    }

    /** A user allowed to publish and subscribe on every topic (bridges, admin tools). */
    public static BrokerUser allowedEverything(String passwordHash) {
        return new BrokerUser(passwordHash, "", List.of("#"), List.of("#"));
    }
}
