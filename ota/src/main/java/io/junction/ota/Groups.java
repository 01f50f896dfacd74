package io.junction.ota;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Device groups: those of the config file ({@code [ota.groups]}, fixed) and those made over the API (kept in the
 * state port). A member is a device uid or a glob pattern with {@code *} ({@code sensor-*}). Owned by the actor.
 */
final class Groups {

    private final Map<String, List<String>> configured;
    private final TreeMap<String, List<String>> managed = new TreeMap<>();

    Groups(Map<String, List<String>> configured) {
        this.configured = Map.copyOf(configured);
    }

    boolean exists(String name) {
        return configured.containsKey(name) || managed.containsKey(name);
    }

    boolean isConfigured(String name) {
        return configured.containsKey(name);
    }

    List<String> members(String name) {
        List<String> m = configured.get(name);
        return m != null ? m : managed.getOrDefault(name, List.of());
    }

    /** The members that are plain uids (the patterns match devices only when they are met). */
    List<String> explicitMembers(String name) {
        return members(name).stream().filter(m -> m.indexOf('*') < 0).toList();
    }

    boolean contains(String name, String uid) {
        for (String m : members(name)) {
            if (m.indexOf('*') < 0 ? m.equals(uid) : Glob.matches(m, uid)) {
                return true;
            }
        }
        return false;
    }

    void put(String name, List<String> members) {
        managed.put(name, List.copyOf(members));
    }

    void remove(String name) {
        managed.remove(name);
    }

    Map<String, List<String>> configured() {
        return configured;
    }

    Map<String, List<String>> managed() {
        return managed;
    }

    /** Every group by name, configured ones first in name order. */
    Map<String, List<String>> all() {
        TreeMap<String, List<String>> all = new TreeMap<>(configured);
        all.putAll(managed);
        return all;
    }

    /** Why {@code member} cannot be a group member or rollout device, or null when it can. */
    static String memberProblem(String member) {
        if (member == null || member.isEmpty() || member.length() > 256) {
            return "a device uid is 1 to 256 characters";
        }
        for (int i = 0; i < member.length(); i++) {
            char c = member.charAt(i);
            if (c == '/' || c == '+' || c == '#' || Character.isWhitespace(c) || Character.isISOControl(c)) {
                return "'" + member + "' is not a device uid: no '/', '+', '#' or white space";
            }
        }
        return null;
    }

    static List<String> sortedCopy(List<String> l) {
        List<String> c = new ArrayList<>(l);
        c.sort(null);
        return c;
    }
}
