package io.junction.core.status;

import io.junction.core.device.ModuleId;
import io.junction.core.device.ModuleRef;
import io.junction.core.device.SystemId;

import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;

/**
 * The status port of modules and systems, laid out as PlaceOS lays it out in Redis so that a Redis adapter is a
 * drop-in:
 * <ul>
 *   <li>hash {@code status/<module_id>}: status name → JSON value (and {@code PUBLISH status/<module_id>/<name>} on a
 *       change);</li>
 *   <li>hash {@code system/<system_id>}: {@code <ModuleName>/<index>} → module id, replaced whole when the system
 *       changes, followed by a {@code lookup-change} notification naming the system;</li>
 *   <li>key {@code interface/<module_id>}: the module's driver metadata as JSON.</li>
 * </ul>
 * Values are JSON text. The embedded adapter keeps everything in memory and persists it; a scale-out adapter keeps
 * it in Redis. Reads never wait for a writer.
 */
public interface ModuleStatusStore extends AutoCloseable {

    /**
     * Sets status variable {@code name} of {@code module} to the JSON text {@code json}; listeners hear it when it
     * differs from what was there. Returns whether it changed.
     */
    boolean set(ModuleId module, String name, String json);

    /** Deletes one status variable; listeners hear it as a change to nothing. Returns whether there was one. */
    boolean delete(ModuleId module, String name);

    /** The JSON text of one status variable. */
    Optional<String> get(ModuleId module, String name);

    /** Every status variable of a module, ordered by name; empty when it has none. */
    SortedMap<String, String> all(ModuleId module);

    /** Deletes the whole {@code status/<module_id>} hash (the module was deleted); listeners hear each variable go. */
    void clear(ModuleId module);

    /**
     * Replaces the lookup hash {@code system/<system_id>} with {@code lookup} (an empty map deletes it) and notifies
     * {@link Listener#lookupChanged}.
     */
    void replaceSystem(SystemId system, Map<ModuleRef, ModuleId> lookup);

    /** The module at {@code ref} ({@code Display/1}) in a system. */
    Optional<ModuleId> lookup(SystemId system, ModuleRef ref);

    /** The whole lookup hash of a system; empty when there is none. */
    Map<ModuleRef, ModuleId> system(SystemId system);

    /** Sets {@code interface/<module_id>}: the driver metadata (JSON text) of the module. */
    void setInterface(ModuleId module, String json);

    Optional<String> getInterface(ModuleId module);

    void deleteInterface(ModuleId module);

    /**
     * Registers a listener of changes. The embedded adapter calls it after each change on the thread that made it
     * (so a change made on an actor's thread is heard before the call returns); a distributed adapter calls it on its
     * subscriber thread, for changes made by any node. It must return quickly. Closing the handle stops the calls.
     */
    Subscription listen(Listener listener);

    /** Returns once everything set before the call is as durable as the adapter makes it (a commit point). */
    void flush();

    @Override
    void close();

    /** The field of {@code ref} in a {@code system/<system_id>} hash, as PlaceOS writes it: {@code Display/1}. */
    static String field(ModuleRef ref) {
        return ref.name() + "/" + ref.index();
    }

    /** Reads a {@code Display/1} field back; empty when it is not one. */
    static Optional<ModuleRef> parseField(String field) {
        int cut = field.lastIndexOf('/');
        if (cut < 1 || cut == field.length() - 1) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ModuleRef(field.substring(0, cut), Integer.parseInt(field.substring(cut + 1))));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** What a listener hears; every method does nothing unless overridden. */
    interface Listener {

        /** {@code status/<module>} field {@code name} changed to {@code json}; empty when it was deleted. */
        default void statusChanged(ModuleId module, String name, Optional<String> json) {
        }

        /** {@code system/<system>} was replaced (PlaceOS' {@code lookup-change}). */
        default void lookupChanged(SystemId system) {
        }

        /**
         * The adapter may have missed changes — e.g. it lost and re-made its subscription: re-read what you show. It
         * is called once the adapter hears changes again, so what is read after it is as new as anything missed. Like
         * the other calls it must return quickly. The embedded adapter never misses a change and never calls it.
         */
        default void resynced() {
        }
    }

    /** A registered listener. */
    interface Subscription extends AutoCloseable {
        @Override
        void close();
    }
}
