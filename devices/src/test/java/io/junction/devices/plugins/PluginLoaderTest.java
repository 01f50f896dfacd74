package io.junction.devices.plugins;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;

import io.junction.core.auth.Role;
import io.junction.devices.driver.Driver;
import io.junction.devices.driver.DriverCatalog;
import io.junction.devices.driver.DriverType;
import io.junction.devices.driver.FunctionSpec;
import io.junction.devices.driver.JavaDriverType;
import io.junction.devices.driver.Param;
import io.junction.devices.driver.ParamType;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.OutputStream;
import java.lang.ref.WeakReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class PluginLoaderTest {

    private static final String ID = "acme-answer";
    private static final String CLASS = "com.acme.Answer";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private Path plugins;
    private DriverCatalog catalog;
    private SimpleMeterRegistry metrics;
    private PluginLoader loader;

    @BeforeEach
    void setUp() throws Exception {
        plugins = Files.createDirectories(dir.resolve("plugins"));
        catalog = new DriverCatalog(Clock.systemUTC());
        metrics = new SimpleMeterRegistry();
    }

    @AfterEach
    void tearDown() {
        if (loader != null) {
            loader.close();
        }
    }

    private PluginLoader start() throws Exception {
        return start(Duration.ofMillis(150));
    }

    private PluginLoader start(Duration settle) throws Exception {
        loader = new PluginLoader(plugins, catalog, metrics, Clock.systemUTC(), settle, Duration.ofMillis(500)).start();
        return loader;
    }

    private static Object call(DriverType type, String function, JsonNode... args) throws Throwable {
        return call(type, type.create(), function, args);
    }

    private static Object call(DriverType type, Driver instance, String function, JsonNode... args) throws Throwable {
        return type.call(instance, type.metadata().function(function).orElseThrow(), List.of(args));
    }

    private Object answer() throws Throwable {
        return call(catalog.get(ID).orElseThrow(), "answer");
    }

    private String source() {
        return catalog.get(ID).map(DriverType::source).orElse("");
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private double counter(String name) {
        return metrics.get(name).counter().count();
    }

    private double gauge(String name) {
        return metrics.get(name).gauge().value();
    }

    @Test
    void jarPresentAtStartIsLoadedWithItsMetadata() throws Throwable {
        String panel = """
                package com.acme;

                import io.junction.core.auth.Role;
                import io.junction.devices.driver.*;

                @DriverInfo(id = "acme-panel", name = "Panel")
                @Requires(module = "Display_1", interfaces = {"Powerable"})
                public final class Panel implements Driver {
                    @Callable(role = Role.SUPPORT)
                    public int reboot(@Arg(value = "delay", fallback = "5") int delay) {
                        return delay * 2;
                    }
                }
                """;
        byte[] jar = PluginJars.builder()
                .source(CLASS, PluginJars.driverSource(CLASS, ID, "one"))
                .source("com.acme.Panel", panel)
                .driversFile("# the drivers of acme.jar\n\ncom.acme.Answer   # answers\ncom.acme.Panel\n")
                .build();
        Files.write(plugins.resolve("acme.jar"), jar);

        start();

        // start() returns with the drivers in the catalog.
        JavaDriverType answer = (JavaDriverType) catalog.get(ID).orElseThrow();
        assertThat(answer.source()).isEqualTo("plugin acme.jar (v1)");
        assertThat(answer.type().getName()).isEqualTo(CLASS);
        assertThat(answer.type().getClassLoader()).isNotSameAs(getClass().getClassLoader());
        assertThat(answer.metadata().name()).isEqualTo("Answerer");
        assertThat(answer.metadata().description()).isEqualTo("answers one");
        assertThat(answer.metadata().implementsList()).containsExactly("Answering");
        assertThat(answer.metadata().functions().keySet()).containsExactlyInAnyOrder("answer", "greet");
        FunctionSpec greet = answer.metadata().function("greet").orElseThrow();
        assertThat(greet.params()).extracting(Param::name).containsExactly("name", "greeting");
        assertThat(greet.params().get(0).types()).containsExactly(ParamType.STRING);
        assertThat(greet.params().get(1).fallback()).contains(TextNode.valueOf("hello"));
        assertThat(call(answer, "answer")).isEqualTo("one");
        assertThat(call(answer, "greet", TextNode.valueOf("ada"), TextNode.valueOf("hi"))).isEqualTo("hi ada from one");

        DriverType panelType = catalog.get("acme-panel").orElseThrow();
        assertThat(panelType.metadata().requirements()).isEqualTo(Map.of("Display_1", List.of("Powerable")));
        assertThat(panelType.metadata().function("reboot").orElseThrow().role()).isEqualTo(Role.SUPPORT);
        assertThat(panelType.metadata().toJson().path("security").path("support").get(0).asText()).isEqualTo("reboot");
        assertThat(call(panelType, "reboot", com.fasterxml.jackson.databind.node.IntNode.valueOf(4))).isEqualTo(8);

        assertThat(loader.plugins()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo("acme.jar");
            assertThat(p.version()).isEqualTo(1);
            assertThat(p.checksum()).isEqualTo(sha256(jar));
            assertThat(p.drivers()).containsExactly("acme-answer", "acme-panel");
            assertThat(p.loadedAt()).isPresent();
            assertThat(p.error()).isEmpty();
        });
        assertThat(gauge("junction.plugins.loaded")).isEqualTo(1.0);
        assertThat(catalog.failures()).isEmpty();
    }

    @Test
    void jarMovedIntoTheFolderIsLoaded() throws Throwable {
        start();
        assertThat(catalog.get(ID)).isEmpty();

        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "one"), plugins.resolve("answer.jar"));

        await().atMost(WAIT).until(() -> catalog.get(ID).isPresent());
        assertThat(source()).isEqualTo("plugin answer.jar (v1)");
        assertThat(answer()).isEqualTo("one");
        assertThat(loader.plugins()).extracting(PluginLoader.Plugin::file).containsExactly("answer.jar");
    }

    @Test
    void replacingTheJarSwapsTheDriverWhileOldInstancesKeepTheirCode() throws Throwable {
        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "one"), plugins.resolve("answer.jar"));
        start();
        JavaDriverType v1 = (JavaDriverType) catalog.get(ID).orElseThrow();
        Driver running = v1.create();
        List<DriverType> replaced = new CopyOnWriteArrayList<>();
        catalog.onReplaced(replaced::add);
        byte[] v2jar = PluginJars.driverJar(CLASS, ID, "two");

        // A plain copy over the old file: the loader sees it grow and reads it once complete.
        PluginJars.copyInto(v2jar, plugins.resolve("answer.jar"));

        await().atMost(WAIT).until(() -> source().equals("plugin answer.jar (v2)"));
        JavaDriverType v2 = (JavaDriverType) catalog.get(ID).orElseThrow();
        assertThat(answer()).isEqualTo("two");
        assertThat(v2.type().getClassLoader()).isNotSameAs(v1.type().getClassLoader());
        assertThat(replaced).containsExactly(v2);
        // Work in flight finishes on the old version, whose loader is closed by now: its classes were loaded up front.
        assertThat(call(v1, running, "greet", TextNode.valueOf("ada"), TextNode.valueOf("bye"))).isEqualTo("bye ada from one");
        assertThat(counter("junction.plugins.reloads")).isEqualTo(1.0);
        assertThat(loader.plugins()).singleElement().satisfies(p -> {
            assertThat(p.version()).isEqualTo(2);
            assertThat(p.checksum()).isEqualTo(sha256(v2jar));
        });

        // Moving the same bytes in again is not a new version.
        PluginJars.moveInto(v2jar, plugins.resolve("answer.jar"));
        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "three"), plugins.resolve("answer.jar"));
        await().atMost(WAIT).until(() -> source().equals("plugin answer.jar (v3)"));
        assertThat(answer()).isEqualTo("three");
        assertThat(counter("junction.plugins.reloads")).isEqualTo(2.0);
    }

    @Test
    void aNewVersionWithoutADriverRemovesThatDriver() throws Throwable {
        String other = PluginJars.driverSource("com.acme.Other", "acme-other", "other");
        PluginJars.moveInto(PluginJars.builder().source(CLASS, PluginJars.driverSource(CLASS, ID, "one"))
                .source("com.acme.Other", other).driver(CLASS).driver("com.acme.Other").build(), plugins.resolve("answer.jar"));
        start();
        assertThat(catalog.get("acme-other")).isPresent();

        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "two"), plugins.resolve("answer.jar"));

        await().atMost(WAIT).until(() -> source().equals("plugin answer.jar (v2)"));
        assertThat(catalog.get("acme-other")).isEmpty();
        assertThat(loader.plugins().getFirst().drivers()).containsExactly(ID);
    }

    static Stream<Arguments> brokenJars() {
        return Stream.of(
                Arguments.of("garbage bytes", (Supplier<byte[]>) () -> "this is not a zip file".getBytes(StandardCharsets.UTF_8),
                        "is not a jar (zip) file"),
                Arguments.of("a class that is not a driver", (Supplier<byte[]>) () -> PluginJars.builder()
                                .source(CLASS, "package com.acme; public final class Answer { public String answer() { return \"x\"; } }")
                                .driver(CLASS).build(),
                        "com.acme.Answer does not implement io.junction.devices.driver.Driver"),
                Arguments.of("invalid metadata", (Supplier<byte[]>) () -> PluginJars.builder()
                                .source(CLASS, PluginJars.driverSource(CLASS, "bad id!", "x")).driver(CLASS).build(),
                        "driver id 'bad id!' must be 1 to 64 letters"),
                Arguments.of("a parameter without @Arg", (Supplier<byte[]>) () -> PluginJars.builder()
                                .source(CLASS, """
                                        package com.acme;
                                        import io.junction.devices.driver.*;
                                        @DriverInfo(id = "acme-answer")
                                        public final class Answer implements Driver {
                                            @Callable public String answer(String name) { return name; }
                                        }
                                        """).driver(CLASS).build(),
                        "needs @Arg(\"name\")"),
                Arguments.of("no drivers file", (Supplier<byte[]>) () -> PluginJars.builder()
                                .source(CLASS, PluginJars.driverSource(CLASS, ID, "x")).withoutDriversFile().build(),
                        "has no META-INF/junction/drivers"),
                Arguments.of("a listed class that is missing", (Supplier<byte[]>) () -> PluginJars.builder()
                                .source(CLASS, PluginJars.driverSource(CLASS, ID, "x")).driver(CLASS).driver("com.acme.Missing").build(),
                        "names com.acme.Missing, which is not in the jar"),
                Arguments.of("a drivers file line that is not a class name", (Supplier<byte[]>) () -> PluginJars.builder()
                                .source(CLASS, PluginJars.driverSource(CLASS, ID, "x")).driversFile("com.acme.Answer\ncom acme Pump\n").build(),
                        "line 2: 'com acme Pump' is not a class name"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenJars")
    void brokenJarIsReportedAndTheRunningVersionStays(String what, Supplier<byte[]> broken, String expected) throws Throwable {
        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "one"), plugins.resolve("answer.jar"));
        start();
        DriverType v1 = catalog.get(ID).orElseThrow();

        PluginJars.moveInto(broken.get(), plugins.resolve("answer.jar"));

        await().atMost(WAIT).until(() -> !catalog.failures().isEmpty());
        assertThat(catalog.failures()).singleElement().satisfies(f -> {
            assertThat(f.source()).isEqualTo("plugin answer.jar");
            assertThat(f.error()).startsWith("v2 not loaded: ").contains(expected).endsWith("(v1 keeps running)");
        });
        assertThat(catalog.get(ID)).containsSame(v1);
        assertThat(answer()).isEqualTo("one");
        assertThat(counter("junction.plugins.failures")).isEqualTo(1.0);
        assertThat(loader.plugins()).singleElement().satisfies(p -> {
            assertThat(p.version()).isEqualTo(1);
            assertThat(p.drivers()).containsExactly(ID);
            assertThat(p.error()).hasValueSatisfying(e -> assertThat(e).contains(expected));
        });

        // A good version clears the failure.
        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "three"), plugins.resolve("answer.jar"));
        await().atMost(WAIT).until(() -> source().equals("plugin answer.jar (v3)"));
        assertThat(answer()).isEqualTo("three");
        assertThat(catalog.failures()).isEmpty();
        assertThat(loader.plugins().getFirst().error()).isEmpty();
    }

    @Test
    void brokenJarWithNothingRunningIsReportedAndClearedWhenDeleted() throws Exception {
        start();
        Path jar = PluginJars.moveInto("PK not really".getBytes(StandardCharsets.UTF_8), plugins.resolve("broken.jar"));

        await().atMost(WAIT).until(() -> !catalog.failures().isEmpty());
        assertThat(catalog.failures().getFirst().error()).isEqualTo("v1 not loaded: is not a jar (zip) file: zip END header not found");
        assertThat(loader.plugins()).singleElement().satisfies(p -> {
            assertThat(p.version()).isZero();
            assertThat(p.drivers()).isEmpty();
            assertThat(p.loadedAt()).isEmpty();
        });
        assertThat(gauge("junction.plugins.loaded")).isZero();

        Files.delete(jar);
        await().atMost(WAIT).until(() -> catalog.failures().isEmpty());
        assertThat(loader.plugins()).isEmpty();
    }

    @Test
    void driverIdAlreadyProvidedByAnotherJarIsRefused() throws Throwable {
        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "one"), plugins.resolve("a.jar"));
        start();

        PluginJars.moveInto(PluginJars.driverJar("org.other.Answer", ID, "impostor"), plugins.resolve("b.jar"));

        await().atMost(WAIT).until(() -> !catalog.failures().isEmpty());
        assertThat(catalog.failures()).singleElement().satisfies(f -> {
            assertThat(f.source()).isEqualTo("plugin b.jar");
            assertThat(f.error()).contains("driver id 'acme-answer', which plugin a.jar (v1) already provides");
        });
        assertThat(source()).isEqualTo("plugin a.jar (v1)");
        assertThat(answer()).isEqualTo("one");
    }

    @Test
    void deletingTheJarRemovesItsDrivers() throws Throwable {
        Path jar = PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "one"), plugins.resolve("answer.jar"));
        start();
        assertThat(catalog.get(ID)).isPresent();

        Files.delete(jar);

        await().atMost(WAIT).until(() -> catalog.get(ID).isEmpty());
        assertThat(loader.plugins()).isEmpty();
        assertThat(gauge("junction.plugins.loaded")).isZero();

        // Dropped again later, it is the file's next version.
        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "again"), plugins.resolve("answer.jar"));
        await().atMost(WAIT).until(() -> source().equals("plugin answer.jar (v2)"));
        assertThat(answer()).isEqualTo("again");
    }

    @Test
    void jarStillBeingWrittenIsReadOnceComplete() throws Throwable {
        // A settle period longer than the writer's pauses: the loader must wait for the end, not read what is there.
        start(Duration.ofSeconds(1));
        byte[] jar = PluginJars.driverJar(CLASS, ID, "slow");
        int chunks = 12;
        int size = (jar.length + chunks - 1) / chunks;
        try (OutputStream out = Files.newOutputStream(plugins.resolve("answer.jar"))) {
            for (int off = 0; off < jar.length; off += size) {
                out.write(jar, off, Math.min(size, jar.length - off));
                out.flush();
                Thread.sleep(40); // a slow copy, not a wait for the loader
            }
        }

        await().atMost(WAIT).until(() -> catalog.get(ID).isPresent());
        assertThat(answer()).isEqualTo("slow");
        assertThat(source()).isEqualTo("plugin answer.jar (v1)");
        assertThat(counter("junction.plugins.failures")).isZero();
    }

    @Test
    void oldClassLoaderIsCollectableAfterASwap() throws Throwable {
        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "one"), plugins.resolve("answer.jar"));
        start();
        WeakReference<ClassLoader> old = loaderOf(catalog);

        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "two"), plugins.resolve("answer.jar"));
        await().atMost(WAIT).until(() -> source().equals("plugin answer.jar (v2)"));
        assertThat(answer()).isEqualTo("two");

        await().atMost(WAIT).pollInterval(Duration.ofMillis(200)).until(() -> {
            System.gc();
            return old.get() == null;
        });
        assertThat(catalog.get(ID)).isPresent();
    }

    /** Only a weak reference leaves this method, so the test itself holds nothing of the first version. */
    private static WeakReference<ClassLoader> loaderOf(DriverCatalog catalog) throws Throwable {
        JavaDriverType type = (JavaDriverType) catalog.get(ID).orElseThrow();
        assertThat(call(type, "answer")).isEqualTo("one");
        return new WeakReference<>(type.type().getClassLoader());
    }

    @Test
    void closeReleasesVersionsButLeavesDriversInTheCatalog() throws Throwable {
        PluginJars.moveInto(PluginJars.driverJar(CLASS, ID, "one"), plugins.resolve("answer.jar"));
        loader = new PluginLoader(plugins, catalog, metrics).start();
        assertThat(answer()).isEqualTo("one");

        loader.close();

        assertThat(loader.plugins()).isEmpty();
        assertThat(catalog.get(ID)).isPresent();
        // Once closed it no longer watches: a new jar is not loaded.
        PluginJars.moveInto(PluginJars.driverJar("com.acme.Late", "acme-late", "late"), plugins.resolve("late.jar"));
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> catalog.get("acme-late").isEmpty());
    }
}
