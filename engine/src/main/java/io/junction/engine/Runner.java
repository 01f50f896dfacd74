package io.junction.engine;

import io.junction.core.stream.StreamEntry;

/**
 * One live instance of a script: a polyglot context or a WASM instance, with the script's code loaded and
 * {@code init} called. Used by one thread at a time, which makes every call inside its own {@link Guard}.
 */
interface Runner extends Guard.Stoppable {

    /** Calls the script's {@code process} with one message; what it returns goes into {@code outputs}. */
    void process(StreamEntry entry, Outputs outputs) throws ScriptFailure;

    /** Calls the script's {@code close} if it has one (inside {@code guard}, the calling thread's) and frees the instance. Never throws. */
    void close(Guard guard);
}
