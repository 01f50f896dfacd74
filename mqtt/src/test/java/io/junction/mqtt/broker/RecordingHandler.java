package io.junction.mqtt.broker;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/** A PublishHandler for tests: records every call and answers as told (completed at once by default). */
final class RecordingHandler implements PublishHandler {

    final List<InboundPublish> received = new CopyOnWriteArrayList<>();
    private volatile Function<InboundPublish, CompletionStage<?>> answer = p -> CompletableFuture.completedFuture(null);

    @Override
    public CompletionStage<?> onPublish(InboundPublish publish) {
        received.add(publish);
        return answer.apply(publish);
    }

    void answerWith(Function<InboundPublish, CompletionStage<?>> answer) {
        this.answer = answer;
    }

    List<String> topics() {
        return received.stream().map(InboundPublish::topic).toList();
    }

    boolean sawTopic(String topic) {
        return received.stream().anyMatch(p -> p.topic().equals(topic));
    }
}
