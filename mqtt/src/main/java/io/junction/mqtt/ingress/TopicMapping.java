package io.junction.mqtt.ingress;

import io.junction.core.Message;
import io.junction.core.RoutingKey;
import io.junction.core.config.JunctionConfig;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The rules that turn a device topic into a routing key (ingress) and back (egress), applied in this order:
 * <ol>
 *   <li>the application convention: {@code <uid>/app/p/<target>} enters as {@code <uid>.app.<target>}, kind
 *       {@code application}; {@code <uid>.app.<target>} leaves on {@code <uid>/app/s/<target>};</li>
 *   <li>configured devices: a topic under a physical device id ({@code mesh/b5ea3f/42}) enters under its logical
 *       name ({@code bedroom.light}), each further level translated by the subtopics table ({@code M} →
 *       {@code brightness}); a last level equal to the input word ({@code status}) is dropped and gives the kind;
 *       egress appends the output word ({@code command});</li>
 *   <li>everything else enters under the topic with {@code /} turned into {@code .} ({@code plant/7/soil} →
 *       {@code plant.7.soil}), so nothing is silently dropped, and leaves on the reverse.</li>
 * </ol>
 * Topics that carry commands to a device ({@code .../command}, {@code <uid>/app/s/...}) published by a client are
 * delivered by the broker only and do not enter the streams, so a command is never recorded twice.
 */
public final class TopicMapping {

    private static final int CACHE_LIMIT = 65_536;

    private final Map<String, String> devices;
    private final Map<String, String> subtopics;
    private final Map<String, String> logicalToPhysical = new HashMap<>();
    private final Map<String, String> wordToSubtopic = new HashMap<>();
    private final String input;
    private final String output;
    private final ConcurrentHashMap<String, Optional<Route>> cache = new ConcurrentHashMap<>();

    public TopicMapping(JunctionConfig.Mapping config) {
        this.devices = Map.copyOf(config.devices());
        this.subtopics = Map.copyOf(config.subtopics());
        this.input = config.input();
        this.output = config.output();
        for (Map.Entry<String, String> e : devices.entrySet()) {
            String previous = logicalToPhysical.put(e.getValue(), e.getKey());
            if (previous != null) {
                throw new IllegalArgumentException("mapping.devices: both '" + previous + "' and '" + e.getKey()
                        + "' map to '" + e.getValue() + "'; a logical name must belong to one device so commands can find it");
            }
        }
        for (Map.Entry<String, String> e : subtopics.entrySet()) {
            String previous = wordToSubtopic.put(e.getValue(), e.getKey());
            if (previous != null) {
                throw new IllegalArgumentException("mapping.subtopics: both '" + previous + "' and '" + e.getKey()
                        + "' map to '" + e.getValue() + "'; the mapping must work both ways");
            }
        }
    }

    /** The route of a topic a device published on, or empty when it must not enter the streams. */
    public Optional<Route> ingress(String topic) {
        Optional<Route> cached = cache.get(topic);
        if (cached != null) {
            return cached;
        }
        Optional<Route> route = computeIngress(topic);
        if (cache.size() >= CACHE_LIMIT) {
            cache.clear();
        }
        cache.put(topic, route);
        return route;
    }

    private Optional<Route> computeIngress(String topic) {
        String[] levels = topic.split("/", -1);
        if (levels.length >= 4 && levels[1].equals("app") && !levels[0].isEmpty()) {
            if (levels[2].equals("p")) {
                StringBuilder key = new StringBuilder(word(levels[0])).append(".app");
                for (int i = 3; i < levels.length; i++) {
                    key.append('.').append(word(levels[i]));
                }
                return Optional.of(new Route(RoutingKey.of(key.toString()), levels[0], Message.APPLICATION));
            }
            if (levels[2].equals("s")) {
                return Optional.empty();
            }
        }
        // The longest configured device id that is a whole-level prefix of the topic.
        for (int end = topic.length(); end > 0; end = topic.lastIndexOf('/', end - 1)) {
            String logical = devices.get(topic.substring(0, end));
            if (logical == null) {
                continue;
            }
            String device = topic.substring(0, end);
            String[] rest = end == topic.length() ? new String[0] : topic.substring(end + 1).split("/", -1);
            int last = rest.length;
            String kind = Message.STATUS;
            if (last > 0 && rest[last - 1].equals(output)) {
                return Optional.empty();
            }
            if (last > 0 && rest[last - 1].equals(input)) {
                kind = input;
                last--;
            }
            StringBuilder key = new StringBuilder(logical);
            for (int i = 0; i < last; i++) {
                key.append('.').append(word(subtopics.getOrDefault(rest[i], rest[i])));
            }
            return Optional.of(new Route(RoutingKey.of(key.toString()), device, kind));
        }
        StringBuilder key = new StringBuilder(topic.length());
        for (int i = 0; i < levels.length; i++) {
            if (i > 0) {
                key.append('.');
            }
            key.append(word(levels[i]));
        }
        return Optional.of(new Route(RoutingKey.of(key.toString()), word(levels[0]), Message.STATUS));
    }

    /** The topic a command for {@code key} is published on, and the device it goes to. */
    public Egress egress(RoutingKey key) {
        String k = key.value();
        String[] words = k.split("\\.", -1);
        if (words.length >= 3 && words[1].equals("app")) {
            StringBuilder topic = new StringBuilder(words[0]).append("/app/s");
            for (int i = 2; i < words.length; i++) {
                topic.append('/').append(words[i]);
            }
            return new Egress(topic.toString(), words[0]);
        }
        for (int end = k.length(); end > 0; end = k.lastIndexOf('.', end - 1)) {
            String physical = logicalToPhysical.get(k.substring(0, end));
            if (physical == null) {
                continue;
            }
            StringBuilder topic = new StringBuilder(physical);
            if (end < k.length()) {
                for (String w : k.substring(end + 1).split("\\.", -1)) {
                    topic.append('/').append(wordToSubtopic.getOrDefault(w, w));
                }
            }
            topic.append('/').append(output);
            return new Egress(topic.toString(), physical);
        }
        return new Egress(String.join("/", words), words[0]);
    }

    /** Where a command goes: the MQTT topic and the device uid. */
    public record Egress(String topic, String device) {
    }

    /** A topic level as a routing-key word: characters a key cannot hold become '_'. */
    static String word(String level) {
        if (level.isEmpty()) {
            return "_";
        }
        StringBuilder b = null;
        for (int i = 0; i < level.length(); i++) {
            char c = level.charAt(i);
            boolean bad = c == '.' || c == '*' || c == '#' || Character.isWhitespace(c) || Character.isISOControl(c);
            if (bad && b == null) {
                b = new StringBuilder(level.substring(0, i));
            }
            if (b != null) {
                b.append(bad ? '_' : c);
            }
        }
        return b == null ? level : b.toString();
    }
}
