package io.junction.ota;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.junction.core.Json;
import io.junction.core.http.ApiException;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The read-only side of OTA: the packages and the groups (with their links) as of the rollout actor's last change to
 * them. The actor publishes a new one after every such change, before it answers, so a reader sees its own writes;
 * HTTP downloads and the package and group listings read it on their own threads, without going through the actor.
 *
 * @param packages   by id, in upload order
 * @param configured the groups of the config file, by name
 * @param managed    the groups made over the API, by name
 * @param links      a group's linked package, by group name
 * @param uses       the rollouts of each package, by package id, oldest first
 */
record Catalogue(Map<String, OtaPackage> packages, Map<String, List<String>> configured, Map<String, List<String>> managed,
                 Map<String, LinkView> links, Map<String, List<Use>> uses) {

    /** A group's link: the rollout that carries it and its package. */
    record LinkView(String rollout, String packageId, String version) {
    }

    /** A rollout that uses a package, and its status word. */
    record Use(String rollout, String status) {
    }

    Catalogue {
        packages = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(packages));
        configured = Map.copyOf(configured);
        managed = Map.copyOf(managed);
        links = Map.copyOf(links);
        uses = Map.copyOf(uses);
    }

    static Catalogue empty(Map<String, List<String>> configured) {
        return new Catalogue(Map.of(), configured, Map.of(), Map.of(), Map.of());
    }

    Optional<OtaPackage> pkg(String id) {
        return Optional.ofNullable(packages.get(id));
    }

    Collection<OtaPackage> allPackages() {
        return packages.values();
    }

    boolean groupExists(String name) {
        return configured.containsKey(name) || managed.containsKey(name);
    }

    ObjectNode packagesJson() {
        ObjectNode n = Json.object();
        ArrayNode a = n.putArray("packages");
        packages.values().forEach(p -> a.add(p.toJson()));
        return n;
    }

    ObjectNode packageJson(String id) {
        OtaPackage p = pkg(id).orElseThrow(() -> ApiException.notFound("no package " + id));
        ObjectNode n = p.toJson();
        ArrayNode used = n.putArray("rollouts");
        for (Use u : uses.getOrDefault(id, List.of())) {
            used.add(Json.object().put("id", u.rollout()).put("status", u.status()));
        }
        return n;
    }

    /** Every group by name (a name is either configured or managed). */
    ObjectNode groupsJson() {
        TreeMap<String, List<String>> all = new TreeMap<>(configured);
        all.putAll(managed);
        ObjectNode n = Json.object();
        ArrayNode a = n.putArray("groups");
        for (String name : all.keySet()) {
            a.add(groupJson(name));
        }
        return n;
    }

    ObjectNode groupJson(String name) {
        if (!groupExists(name)) {
            throw ApiException.notFound("no group " + name);
        }
        boolean fromConfig = configured.containsKey(name);
        ObjectNode g = Json.object();
        g.put("name", name);
        g.put("source", fromConfig ? "config" : "api");
        ArrayNode m = g.putArray("devices");
        (fromConfig ? configured : managed).get(name).forEach(m::add);
        LinkView link = links.get(name);
        if (link != null) {
            g.putObject("link").put("rollout", link.rollout()).put("package", link.packageId()).put("version", link.version());
        }
        return g;
    }
}
