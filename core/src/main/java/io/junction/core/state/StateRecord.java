package io.junction.core.state;

/**
 * One record of the state port: a JSON document under {@code collection}/{@code key}, with a version that grows by
 * one on every write (the first write gives 1) and the time of that write.
 */
public record StateRecord(String collection, String key, long version, String json, long updatedAtMillis) {
}
