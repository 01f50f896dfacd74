package io.junction.core.device;

import java.util.List;
import java.util.Optional;

/** The devices port: which devices are or were connected, and their counters. */
public interface DeviceDirectory {

    List<DeviceInfo> list();

    /** Looks a device up by uid, or by MQTT client id. */
    Optional<DeviceInfo> get(String uidOrClientId);
}
