package io.junction.scaleout.postgres;

import io.junction.core.testing.Tools;
import io.junction.scaleout.engines.PostgresServer;
import io.junction.scaleout.engines.PostgresTestServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The launcher behind './junction engines up' and the tests: a real PostgreSQL from Debian's binaries. */
class PostgresServerTest {

    private Path dir;

    @BeforeEach
    void needsPostgres() throws IOException {
        if (!PostgresServer.installed()) {
            Tools.missing("PostgreSQL is not installed: install it with 'apt-get install postgresql'");
        }
        dir = Files.createTempDirectory("junction-pg-launcher");
    }

    @AfterEach
    void removeFolder() {
        PostgresTestServer.delete(dir);
    }

    @Test
    void aServerKeepsItsDataAndPasswordAcrossStops() throws Exception {
        int port = Tools.freePort();
        PostgresServer server = PostgresServer.start(dir, port);
        try {
            assertThat(server.url()).isEqualTo("jdbc:postgresql://127.0.0.1:" + port + "/junction");
            assertThat(server.password()).hasSizeGreaterThanOrEqualTo(20);
            assertThat(ProcessHandle.of(server.pid()).flatMap(h -> h.info().command())).hasValueSatisfying(
                    c -> assertThat(c).endsWith("/postgres"));
            try (Connection c = connect(server); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE kept(v text)");
                s.execute("INSERT INTO kept VALUES ('before the stop')");
                try (ResultSet rs = s.executeQuery("SHOW fsync")) {
                    rs.next();
                    assertThat(rs.getString(1)).isEqualTo("on");
                }
            }
            assertThatThrownBy(() -> DriverManager.getConnection(server.url(), server.user(), "wrong"))
                    .isInstanceOf(SQLException.class).hasMessageContaining("password authentication failed");
            String password = server.password();
            long pid = server.pid();
            server.stop();
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));

            PostgresServer again = PostgresServer.start(dir, port);
            try {
                assertThat(again.password()).isEqualTo(password);
                PostgresServer restarted = again.restart();
                try (Connection c = connect(restarted); Statement s = c.createStatement();
                     ResultSet rs = s.executeQuery("SELECT v FROM kept")) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getString(1)).isEqualTo("before the stop");
                } finally {
                    restarted.stop();
                }
            } finally {
                again.stop();
            }
            assertThat(Files.readString(dir.resolve("postgres.log"))).contains("database system is ready to accept connections");
        } finally {
            server.stop();
        }
    }

    @Test
    void aPortInUseIsReportedBeforeAnythingStarts() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThatThrownBy(() -> PostgresServer.startForTests(dir, taken.getLocalPort()))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("PostgreSQL cannot listen on 127.0.0.1:" + taken.getLocalPort())
                    .hasMessageContaining("already in use");
        }
    }

    private static Connection connect(PostgresServer server) throws SQLException {
        Connection c = DriverManager.getConnection(server.url(), server.user(), server.password());
        c.setAutoCommit(true);
        return c;
    }
}
