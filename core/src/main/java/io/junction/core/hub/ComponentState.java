package io.junction.core.hub;

/** What the hub knows of one registered component. */
public record ComponentState(String name, Status status, String detail, long since) {

    public enum Status { STARTING, READY, FAILED, STOPPED }
}
