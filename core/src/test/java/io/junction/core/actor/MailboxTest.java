package io.junction.core.actor;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class MailboxTest {

    @Test
    void commandsAreHandledInOrderAndAFailingOneDoesNotStopTheLoop() {
        List<Integer> handled = new CopyOnWriteArrayList<>();
        Mailbox<Integer> mailbox = new Mailbox<Integer>("test", 8).start(i -> {
            if (i == 2) {
                throw new IllegalStateException("boom");
            }
            handled.add(i);
        });
        for (int i = 1; i <= 4; i++) {
            mailbox.send(i);
        }
        await().until(() -> handled.size() == 3);
        assertThat(handled).containsExactly(1, 3, 4);
        mailbox.close();
    }

    @Test
    void aFullMailboxRefusesOffersInsteadOfGrowing() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Mailbox<Integer> mailbox = new Mailbox<Integer>("slow", 2).start(i -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        mailbox.send(0);
        await().until(() -> mailbox.size() == 0);
        assertThat(mailbox.offer(1)).isTrue();
        assertThat(mailbox.offer(2)).isTrue();
        assertThat(mailbox.offer(3)).isFalse();
        release.countDown();
        mailbox.close();
    }
}
