package io.junction.scaleout;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

import io.junction.scaleout.redis.RedisProbe;

import java.sql.Connection;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Asks each engine a config selects whether it answers, without creating or changing anything there: what
 * {@code junction config check} reports. Each probe gives up after about five seconds.
 */
public final class EngineProbe {

    private static final int TIMEOUT_MILLIS = 5_000;

    private EngineProbe() {
    }

    /** One engine's answer: {@code problem} is empty when it answered. */
    public record Result(String engine, String where, String problem) {
        public boolean ok() {
            return problem.isEmpty();
        }
    }

    /** Probes every engine that {@code settings} selects, in the order streams, status, state. */
    public static List<Result> probe(EngineSettings settings) {
        List<Result> results = new ArrayList<>();
        if (settings.streams() == EngineSettings.StreamsEngine.KAFKA) {
            results.add(kafka(settings.kafka()));
        }
        if (settings.status() == EngineSettings.StatusEngine.REDIS) {
            results.add(redis(settings.redis()));
        }
        if (settings.state() == EngineSettings.StateEngine.POSTGRES) {
            results.add(postgres(settings.postgres()));
        }
        return results;
    }

    private static Result kafka(EngineSettings.Kafka kafka) {
        Map<String, Object> props = new HashMap<>(kafka.properties());
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap());
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, TIMEOUT_MILLIS);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, TIMEOUT_MILLIS);
        try (Admin admin = Admin.create(props)) {
            int nodes = admin.describeCluster().nodes().get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS).size();
            return new Result("kafka", kafka.bootstrap() + " (" + nodes + " broker" + (nodes == 1 ? "" : "s") + ")", "");
        } catch (ExecutionException e) {
            return new Result("kafka", kafka.bootstrap(), String.valueOf(e.getCause()));
        } catch (Exception e) {
            return new Result("kafka", kafka.bootstrap(), e.toString());
        }
    }

    private static Result redis(EngineSettings.Redis redis) {
        try {
            String pong = RedisProbe.ping(redis.url());
            return new Result("redis", redis.where(), "PONG".equals(pong) ? "" : "answered " + pong + " to PING");
        } catch (RuntimeException e) {
            return new Result("redis", redis.where(), e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }

    private static Result postgres(EngineSettings.Postgres pg) {
        DriverManager.setLoginTimeout(TIMEOUT_MILLIS / 1000);
        try (Connection c = DriverManager.getConnection(pg.url(), pg.user(), pg.password())) {
            return new Result("postgres", pg.where(), c.isValid(TIMEOUT_MILLIS / 1000) ? "" : "the connection is not valid");
        } catch (Exception e) {
            return new Result("postgres", pg.where(), e.getMessage() == null ? e.toString() : e.getMessage());
        }
    }
}
