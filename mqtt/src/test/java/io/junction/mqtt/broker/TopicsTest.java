package io.junction.mqtt.broker;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TopicsTest {

    @Test
    void filtersMatchWholeLevelsWithPlusAndHash() {
        assertThat(Topics.matches("a/+/c", "a/b/c", true)).isTrue();
        assertThat(Topics.matches("a/+/c", "a/b/d", true)).isFalse();
        assertThat(Topics.matches("a/+", "a/", true)).isTrue();
        assertThat(Topics.matches("a/+", "a", true)).isFalse();
        assertThat(Topics.matches("a/#", "a", true)).isTrue();
        assertThat(Topics.matches("a/#", "a/b/c", true)).isTrue();
        assertThat(Topics.matches("a/#", "ab", true)).isFalse();
        assertThat(Topics.matches("#", "x/y", true)).isTrue();
        assertThat(Topics.matches("+/+", "/x", true)).isTrue();
        assertThat(Topics.matches("a/b", "a/b/c", true)).isFalse();
        assertThat(Topics.matches("a/b/c", "a/b", true)).isFalse();
    }

    @Test
    void dollarTopicsAreNotMatchedByALeadingWildcard() {
        assertThat(Topics.matches("#", "$SYS/x", true)).isFalse();
        assertThat(Topics.matches("+/x", "$SYS/x", true)).isFalse();
        assertThat(Topics.matches("$SYS/#", "$SYS/x", true)).isTrue();
        assertThat(Topics.matches("#", "$SYS/x", false)).isTrue();
    }

    @Test
    void invalidFiltersAndTopicNamesAreRecognised() {
        assertThat(Topics.isValidFilter("a/#")).isTrue();
        assertThat(Topics.isValidFilter("+/b/+")).isTrue();
        assertThat(Topics.isValidFilter("a/#/b")).isFalse();
        assertThat(Topics.isValidFilter("a#")).isFalse();
        assertThat(Topics.isValidFilter("a/b+")).isFalse();
        assertThat(Topics.isValidFilter("")).isFalse();

        assertThat(Topics.checkTopicName("a/b")).isNull();
        assertThat(Topics.checkTopicName("")).isEqualTo(Topics.TopicProblem.EMPTY);
        assertThat(Topics.checkTopicName("a/+")).isEqualTo(Topics.TopicProblem.WILDCARD);
        assertThat(Topics.checkTopicName("a\0b")).isEqualTo(Topics.TopicProblem.NUL);
        String decodedFromBadBytes = new String(new byte[] {'a', (byte) 0xC3, '(', 'b'}, StandardCharsets.UTF_8);
        assertThat(Topics.checkTopicName(decodedFromBadBytes)).isEqualTo(Topics.TopicProblem.BAD_UTF8);
    }

    @Test
    void accessFiltersCoverOnlyNarrowerSubscriptions() {
        assertThat(Topics.covers("a/#", "a/#")).isTrue();
        assertThat(Topics.covers("a/#", "a/b/+")).isTrue();
        assertThat(Topics.covers("a/#", "a")).isTrue();
        assertThat(Topics.covers("a/#", "b/#")).isFalse();
        assertThat(Topics.covers("a/#", "#")).isFalse();
        assertThat(Topics.covers("a/+", "a/b")).isTrue();
        assertThat(Topics.covers("a/+", "a/+")).isTrue();
        assertThat(Topics.covers("a/+", "a/#")).isFalse();
        assertThat(Topics.covers("a/b", "a/+")).isFalse();
        assertThat(Topics.covers("#", "$SYS/x")).isTrue();
    }

    @Test
    void utf8ValidationRejectsMalformedSequences() {
        assertThat(Topics.isValidUtf8("héllo wörld ✓ 😀".getBytes(StandardCharsets.UTF_8))).isTrue();
        assertThat(Topics.isValidUtf8(new byte[] {(byte) 0xC3, 0x28})).isFalse();
        assertThat(Topics.isValidUtf8(new byte[] {(byte) 0xC0, (byte) 0x80})).isFalse(); // overlong NUL
        assertThat(Topics.isValidUtf8(new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80})).isFalse(); // surrogate
        assertThat(Topics.isValidUtf8(new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80})).isFalse();
        assertThat(Topics.isValidUtf8(new byte[] {(byte) 0xE2, (byte) 0x82})).isFalse(); // truncated
    }

    @Test
    void trieFindsEveryMatchingSubscriptionOncePerSessionWithTheHighestQos() {
        BrokerMetrics metrics = new BrokerMetrics(new SimpleMeterRegistry(), () -> 0, () -> 0, () -> 0);
        Session a = new Session("a", 10, metrics);
        Session b = new Session("b", 10, metrics);
        SubscriptionTrie trie = new SubscriptionTrie();
        trie.subscribe(new SubscriptionTrie.Subscription(a, "x/+/z", 0, false, false));
        trie.subscribe(new SubscriptionTrie.Subscription(a, "x/#", 2, false, false));
        trie.subscribe(new SubscriptionTrie.Subscription(b, "x/y/z", 1, false, false));
        trie.subscribe(new SubscriptionTrie.Subscription(b, "#", 0, false, false));

        var matches = trie.match("x/y/z");

        assertThat(matches).hasSize(2);
        assertThat(matches).anySatisfy(s -> {
            assertThat(s.session()).isSameAs(a);
            assertThat(s.qos()).isEqualTo(2);
        });
        assertThat(matches).anySatisfy(s -> {
            assertThat(s.session()).isSameAs(b);
            assertThat(s.qos()).isEqualTo(1);
        });
        assertThat(trie.match("$SYS/y")).isEmpty();
        assertThat(trie.match("x")).extracting(SubscriptionTrie.Subscription::filter).containsExactlyInAnyOrder("x/#", "#");

        trie.unsubscribe(a, "x/#");
        trie.unsubscribe(b, "#");
        assertThat(trie.match("x/q")).isEmpty();
        assertThat(trie.size()).isEqualTo(2);
    }
}
