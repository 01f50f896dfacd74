package io.junction.core.device;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * What features know of a device beyond its connection — its firmware version, for example — shown with the device's
 * record ({@code GET /api/devices/{uid}}). Each feature adds a source when it starts; sources must be cheap and safe
 * to call from any thread.
 */
public final class DeviceFacts {

    private final CopyOnWriteArrayList<Function<String, Map<String, Object>>> sources = new CopyOnWriteArrayList<>();

    public void add(Function<String, Map<String, Object>> source) {
        sources.add(source);
    }

    /** Every fact the sources know of the device {@code uid}; empty when none does. */
    public Map<String, Object> of(String uid) {
        if (sources.isEmpty()) {
            return Map.of();
        }
        Map<String, Object> facts = new LinkedHashMap<>();
        for (Function<String, Map<String, Object>> source : sources) {
            facts.putAll(source.apply(uid));
        }
        return facts;
    }
}
