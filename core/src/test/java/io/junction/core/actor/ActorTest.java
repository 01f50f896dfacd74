package io.junction.core.actor;

import io.junction.core.testing.MutableClock;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

@Timeout(30)
class ActorTest {

    sealed interface Cmd {
        record Add(int n) implements Cmd {
        }

        record Sum(CompletableFuture<Integer> reply) implements Cmd, Request<Integer> {
        }

        record Boom(CompletableFuture<Integer> reply) implements Cmd, Request<Integer> {
        }

        record Block(CountDownLatch release) implements Cmd {
        }
    }

    /** A small actor: a running sum. */
    static final class Counter {
        final List<Integer> seen = new CopyOnWriteArrayList<>();
        int sum;

        void handle(Cmd c) throws Exception {
            switch (c) {
                case Cmd.Add a -> {
                    sum += a.n();
                    seen.add(a.n());
                }
                case Cmd.Sum s -> s.reply().complete(sum);
                case Cmd.Boom b -> throw new IllegalStateException("the handler broke");
                case Cmd.Block b -> b.release().await();
            }
        }
    }

    @Test
    void commandsAreHandledOneAtATimeInOrder() throws Exception {
        Counter c = new Counter();
        try (Actor<Cmd> actor = Actor.start("counter", 64, Clock.systemUTC(), c::handle)) {
            for (int i = 1; i <= 50; i++) {
                actor.tell(new Cmd.Add(i));
            }
            assertThat(actor.ask(Cmd.Sum::new).get(5, TimeUnit.SECONDS)).isEqualTo(1275);
            assertThat(c.seen).hasSize(50).isSorted();
        }
    }

    @Test
    void aHandlerThatThrowsFailsItsCallerAndTheLoopGoesOn() throws Exception {
        Counter c = new Counter();
        try (Actor<Cmd> actor = Actor.start("counter", 8, Clock.systemUTC(), c::handle)) {
            CompletableFuture<Integer> failed = actor.ask(Cmd.Boom::new);
            assertThatThrownBy(() -> failed.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .hasRootCauseMessage("the handler broke");
            actor.tell(new Cmd.Add(3));
            assertThat(actor.ask(Cmd.Sum::new).get(5, TimeUnit.SECONDS)).isEqualTo(3);
        }
    }

    @Test
    void aFullMailboxRefusesARequestAtOnceInsteadOfGrowing() throws Exception {
        Counter c = new Counter();
        CountDownLatch release = new CountDownLatch(1);
        try (Actor<Cmd> actor = Actor.start("slow", 2, Clock.systemUTC(), c::handle)) {
            actor.tell(new Cmd.Block(release));
            await().until(() -> actor.size() == 0);
            assertThat(actor.tell(new Cmd.Add(1))).isTrue();
            assertThat(actor.tell(new Cmd.Add(2))).isTrue();
            CompletableFuture<Integer> refused = actor.ask(Cmd.Sum::new);
            assertThat(refused).isCompletedExceptionally();
            assertThatThrownBy(refused::join).hasCauseInstanceOf(ActorException.class)
                    .hasMessageContaining("slow is overloaded");
            release.countDown();
            await().until(() -> actor.size() == 0);
            assertThat(actor.ask(Cmd.Sum::new).get(5, TimeUnit.SECONDS)).isEqualTo(3);
        }
    }

    @Test
    void closingFailsWhatIsLeftAndEveryLaterRequest() throws Exception {
        Counter c = new Counter();
        CountDownLatch release = new CountDownLatch(1);
        Actor<Cmd> actor = Actor.start("closing", 8, Clock.systemUTC(), c::handle);
        actor.tell(new Cmd.Block(release));
        CompletableFuture<Integer> queued = actor.ask(Cmd.Sum::new);
        CompletableFuture<Integer> timer = new CompletableFuture<>();
        actor.schedule(Instant.now().plusSeconds(3600), "later", new Cmd.Sum(timer));
        Thread closer = Thread.ofVirtual().start(() -> actor.close(Duration.ofMillis(200)));
        closer.join();
        release.countDown();
        assertThat(queued).isCompletedExceptionally();
        assertThatThrownBy(queued::join).hasCauseInstanceOf(ActorException.class).hasMessageContaining("closing is closed");
        assertThat(timer).isCompletedExceptionally();
        CompletableFuture<Integer> after = actor.ask(Cmd.Sum::new);
        assertThat(after).isCompletedExceptionally();
    }

    @Test
    void closingLetsTheLoopFinishWhatIsQueued() throws Exception {
        Counter c = new Counter();
        Actor<Cmd> actor = Actor.start("drain", 64, Clock.systemUTC(), c::handle);
        for (int i = 0; i < 20; i++) {
            actor.tell(new Cmd.Add(1));
        }
        actor.close();
        assertThat(c.sum).isEqualTo(20);
    }

    @Test
    void timersFireOnTheInjectedClockAndATagReplacesOrCancels() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        Counter c = new Counter();
        try (Actor<Cmd> actor = Actor.start("timers", 8, clock, Duration.ofMillis(5), c::handle)) {
            actor.schedule(clock.instant().plusSeconds(60), "a", new Cmd.Add(1));
            actor.schedule(clock.instant().plusSeconds(30), "a", new Cmd.Add(10));
            actor.schedule(clock.instant().plusSeconds(30), "b", new Cmd.Add(100));
            assertThat(actor.cancel("b")).isTrue();
            actor.schedule(clock.instant().plusSeconds(90), "c", new Cmd.Add(1000));
            Thread.sleep(50);
            assertThat(c.seen).isEmpty();
            clock.advance(Duration.ofSeconds(31));
            await().atMost(Duration.ofSeconds(5)).until(() -> c.seen.equals(List.of(10)));
            assertThat(actor.scheduled("a")).isFalse();
            assertThat(actor.scheduled("c")).isTrue();
            clock.advance(Duration.ofSeconds(60));
            await().atMost(Duration.ofSeconds(5)).until(() -> c.seen.equals(List.of(10, 1000)));
        }
    }

    @Test
    void aTimerReArmedManyTimesFiresOnceAtItsLastDeadline() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        Counter c = new Counter();
        Instant start = clock.instant();
        try (Actor<Cmd> actor = Actor.start("rearm", 8, clock, Duration.ofMillis(5), c::handle)) {
            for (int i = 0; i < 10_000; i++) {
                actor.schedule(start.plusSeconds(100 + i), "t", new Cmd.Add(i));
            }
            clock.advance(Duration.ofSeconds(150));
            Thread.sleep(50);
            assertThat(c.seen).isEmpty();
            clock.advance(Duration.ofSeconds(10_000));
            await().atMost(Duration.ofSeconds(5)).until(() -> !c.seen.isEmpty());
            Thread.sleep(50);
            assertThat(c.seen).containsExactly(9_999);
            assertThat(actor.scheduled("t")).isFalse();
        }
    }

    @Test
    void anIdleActorRunsACommandOnTheCallersThreadAndABusyOneQueuesIt() throws Exception {
        List<String> threads = new CopyOnWriteArrayList<>();
        CountDownLatch release = new CountDownLatch(1);
        try (Actor<Cmd> actor = Actor.start("inline", 8, Clock.systemUTC(), cmd -> {
            threads.add(Thread.currentThread().getName());
            if (cmd instanceof Cmd.Block b) {
                b.release().await();
            }
        })) {
            Thread.currentThread().setName("caller");
            assertThat(actor.runNowOrTell(new Cmd.Add(1))).isTrue();
            assertThat(threads).containsExactly("caller");
            actor.tell(new Cmd.Block(release));
            await().until(() -> threads.size() == 2);
            actor.runNowOrTell(new Cmd.Add(2));
            assertThat(threads).hasSize(2);
            release.countDown();
            await().until(() -> threads.size() == 3);
            assertThat(threads.get(2)).isEqualTo("inline");
        }
    }
}
