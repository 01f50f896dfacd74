package io.junction.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code ./junction bench jobs}: a server in a child JVM runs N concurrent short jobs (on, wait, off) on virtual
 * modules; it is killed with SIGKILL while they run and started again. Every job must end, once, within ±1 s of
 * the deadline it was given when it started: the bench reads each job's trace and reports lost jobs, steps run more
 * than once, and how far each end was from its deadline.
 */
final class JobsBench {

    private static final ObjectMapper JSON = new ObjectMapper();

    private JobsBench() {
    }

    static int run(String[] args, PrintStream out) throws Exception {
        int jobs = 10_000;
        int modules = 100;
        int seconds = 40;
        int killAfter = 10;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--jobs" -> jobs = Integer.parseInt(args[++i]);
                case "--modules" -> modules = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Integer.parseInt(args[++i]);
                case "--kill-after" -> killAfter = Integer.parseInt(args[++i]);
                case "--help", "-h" -> {
                    out.println("""
                            usage: ./junction bench jobs [--jobs 10000] [--modules 100] [--seconds 40] [--kill-after 10]
                              --jobs        concurrent jobs (power on, wait, power off) spread over the modules
                              --modules     virtual modules the jobs run on
                              --seconds     each job's wait; all must still be running when the server is killed
                              --kill-after  seconds after the last job started that the server is killed (kill -9)""");
                    return 0;
                }
                default -> throw new IllegalArgumentException("unknown option '" + args[i] + "'; see ./junction bench jobs --help");
            }
        }
        Path config = Files.createTempFile("junction-jobs-bench", ".toml");
        Files.writeString(config, """
                [telemetry]
                enabled = false

                [[jobs]]
                name = "pulse"
                driver = "virtual"
                params = { duration = ["Duration", "30s"] }
                steps = [ { call = "power", args = { state = true } }, { wait = "{duration}" }, { call = "power", args = { state = false } } ]
                neutral = [ { call = "power", args = { state = false } } ]
                """);
        JunctionServer server = JunctionServer.start(config, "2g");
        try {
            for (int m = 0; m < modules; m++) {
                send(server, "POST", "/api/modules", "{\"id\": \"pump-" + m + "\", \"driver\": \"virtual\", \"name\": \"Pump\"}", 201);
            }
            out.printf("jobs bench: server pid %d, %d jobs on %d virtual modules, each waits %d s; kill -9 %d s after the last start%n",
                    server.pid(), jobs, modules, seconds, killAfter);

            Map<String, Instant> deadlines = new ConcurrentHashMap<>();
            AtomicInteger failed = new AtomicInteger();
            Semaphore window = new Semaphore(64);
            long t0 = System.nanoTime();
            final JunctionServer s = server;
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int j = 0; j < jobs; j++) {
                    String body = "{\"module\": \"pump-" + (j % modules) + "\", \"job\": \"pulse\", \"args\": {\"duration\": \"" + seconds + "s\"}}";
                    window.acquire();
                    pool.submit(() -> {
                        try {
                            JsonNode job = send(s, "POST", "/api/jobs", body, 201);
                            deadlines.put(job.path("id").asText(), Instant.parse(job.path("deadline").asText()));
                        } catch (Exception e) {
                            failed.incrementAndGet();
                        } finally {
                            window.release();
                        }
                    });
                }
            }
            double startSeconds = (System.nanoTime() - t0) / 1e9;
            out.printf("started %d jobs in %.1f s (%.0f starts/s, each on disk before it answered); %d starts failed%n",
                    deadlines.size(), startSeconds, deadlines.size() / startSeconds, failed.get());
            Instant firstDeadline = deadlines.values().stream().min(Instant::compareTo).orElseThrow();
            if (Instant.now().plusSeconds(killAfter + 5).isAfter(firstDeadline)) {
                out.println("warning: some jobs may end before the kill; raise --seconds");
            }
            Thread.sleep(killAfter * 1000L);

            long k0 = System.nanoTime();
            server = server.killAndRestart();
            out.printf("killed with SIGKILL and restarted: healthy again in %.1f s%n", (System.nanoTime() - k0) / 1e9);

            // Wait for every job to end, then read each trace.
            Instant lastDeadline = deadlines.values().stream().max(Instant::compareTo).orElseThrow();
            while (Instant.now().isBefore(lastDeadline.plusSeconds(5))) {
                Thread.sleep(500);
            }
            long running;
            long waitUntil = System.nanoTime() + 60_000_000_000L;
            do {
                running = send(server, "GET", "/api/jobs?state=running&limit=1", null, 200).path("count").asLong();
                if (running > 0) {
                    Thread.sleep(500);
                }
            } while (running > 0 && System.nanoTime() < waitUntil);

            List<Long> offsets = new ArrayList<>();
            AtomicInteger lost = new AtomicInteger();
            AtomicInteger notDone = new AtomicInteger();
            AtomicInteger twice = new AtomicInteger();
            AtomicInteger reapplied = new AtomicInteger();
            AtomicInteger outside = new AtomicInteger();
            final JunctionServer after = server;
            Map<String, Long> offsetById = new ConcurrentHashMap<>();
            Semaphore reads = new Semaphore(32);
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (var e : deadlines.entrySet()) {
                    reads.acquire();
                    pool.submit(() -> {
                        try {
                            JsonNode job = send(after, "GET", "/api/jobs/" + e.getKey(), null, -1);
                            if (job == null || job.path("id").isMissingNode()) {
                                lost.incrementAndGet();
                                return;
                            }
                            if (!job.path("state").asText().equals("done")) {
                                notDone.incrementAndGet();
                            }
                            for (JsonNode step : job.path("steps")) {
                                if (step.has("call") && !step.path("status").asText().equals("done")) {
                                    notDone.incrementAndGet();
                                }
                            }
                            int reapply = 0;
                            for (JsonNode ev : job.path("events")) {
                                if (ev.path("kind").asText().equals("reapply")) {
                                    reapply++;
                                }
                            }
                            if (reapply > 0) {
                                reapplied.incrementAndGet();
                            }
                            if (reapply > 1) {
                                twice.incrementAndGet();
                            }
                            JsonNode lastStep = job.path("steps").get(job.path("steps").size() - 1);
                            Instant ended = Instant.parse(lastStep.path("ended").asText(job.path("ended").asText()));
                            long off = Duration.between(e.getValue(), ended).toMillis();
                            offsetById.put(e.getKey(), off);
                            if (Math.abs(off) > 1000) {
                                outside.incrementAndGet();
                            }
                        } catch (Exception ex) {
                            lost.incrementAndGet();
                        } finally {
                            reads.release();
                        }
                    });
                }
            }
            offsets.addAll(offsetById.values());
            offsets.sort(Long::compare);
            out.printf("%d jobs: %d lost, %d not done, %d re-applied after the restart, %d re-applied more than once%n",
                    deadlines.size(), lost.get(), notDone.get(), reapplied.get(), twice.get());
            if (!offsets.isEmpty()) {
                out.printf("end - deadline: min %d ms, median %d ms, p99 %d ms, max %d ms; %d outside ±1 s   target: all within ±1 s%n",
                        offsets.getFirst(), offsets.get(offsets.size() / 2), offsets.get((int) Math.min(offsets.size() - 1, Math.round(offsets.size() * 0.99))),
                        offsets.getLast(), outside.get());
            }
            return lost.get() == 0 && notDone.get() == 0 && twice.get() == 0 && outside.get() == 0 ? 0 : 1;
        } finally {
            server.close();
            Files.deleteIfExists(config);
        }
    }

    /** Sends a request with the admin's token; returns the JSON answer, failing unless the status is {@code expect} (-1: any). */
    private static JsonNode send(JunctionServer server, String method, String path, String body, int expect)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = Net.bearer(HttpRequest.newBuilder(URI.create(server.baseUrl() + path)), server.token())
                .timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<String> r = Net.http().send(b.build(), HttpResponse.BodyHandlers.ofString());
        if (expect > 0 && r.statusCode() != expect) {
            throw new IOException(method + " " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.body().isEmpty() ? null : JSON.readTree(r.body());
    }
}
