package io.junction.mqtt.broker;

import java.util.ArrayList;
import java.util.List;

/** Which topics one authenticated client may publish to and subscribe to. */
final class AccessRules {

    /** Anonymous clients (when allowed) and users whose filters include {@code #}. */
    static final AccessRules ALLOW_ALL = new AccessRules(new String[] {"#"}, new String[] {"#"});

    private final String[] publish;
    private final String[] subscribe;
    private final boolean publishAll;
    private final boolean subscribeAll;

    private AccessRules(String[] publish, String[] subscribe) {
        this.publish = publish;
        this.subscribe = subscribe;
        this.publishAll = List.of(publish).contains("#");
        this.subscribeAll = List.of(subscribe).contains("#");
    }

    /** {@code <uid>/#} plus the user's extra filters. */
    static AccessRules forUser(BrokerUser user) {
        return new AccessRules(withOwnTree(user.deviceUid(), user.publishFilters()),
                withOwnTree(user.deviceUid(), user.subscribeFilters()));
    }

    private static String[] withOwnTree(String uid, List<String> extra) {
        List<String> all = new ArrayList<>(extra.size() + 1);
        all.add(uid + "/#");
        all.addAll(extra);
        return all.toArray(String[]::new);
    }

    boolean canPublish(String topic) {
        if (publishAll) {
            return true;
        }
        for (String filter : publish) {
            if (Topics.matches(filter, topic, false)) {
                return true;
            }
        }
        return false;
    }

    boolean canSubscribe(String filter) {
        if (subscribeAll) {
            return true;
        }
        for (String allowed : subscribe) {
            if (Topics.covers(allowed, filter)) {
                return true;
            }
        }
        return false;
    }
}
