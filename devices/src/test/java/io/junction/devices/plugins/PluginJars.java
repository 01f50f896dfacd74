package io.junction.devices.plugins;

import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

/**
 * Builds driver plugin jars from Java source at test time: the sources are compiled against the test's class path,
 * and the classes plus {@code META-INF/junction/drivers} are written into a jar. Shared with other modules' tests
 * through the devices test-jar.
 *
 * <pre>{@code
 * byte[] jar = PluginJars.builder()
 *         .source("com.acme.Pump", PluginJars.driverSource("com.acme.Pump", "acme-pump", "v1"))
 *         .driver("com.acme.Pump")
 *         .build();
 * PluginJars.moveInto(jar, plugins.resolve("pump.jar"));
 * }</pre>
 */
public final class PluginJars {

    private PluginJars() {
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A jar with one driver {@code className} whose id is {@code id} and whose {@code answer()} function returns {@code answer}. */
    public static byte[] driverJar(String className, String id, String answer) {
        return builder().source(className, driverSource(className, id, answer)).driver(className).build();
    }

    /**
     * The source of a driver {@code className} with the id {@code id}: {@code @Implements("Answering")}, a function
     * {@code answer()} returning {@code answer}, and {@code greet(name, greeting = "hello")} returning
     * {@code "<greeting> <name> from <answer>"}.
     */
    public static String driverSource(String className, String id, String answer) {
        int dot = className.lastIndexOf('.');
        String pkg = dot < 0 ? "" : "package " + className.substring(0, dot) + ";\n";
        String simple = className.substring(dot + 1);
        return pkg + """
                import io.junction.devices.driver.*;

                @DriverInfo(id = "%s", name = "Answerer", description = "answers %s")
                @Implements("Answering")
                public final class %s implements Driver {
                    @Callable
                    public String answer() {
                        return "%s";
                    }

                    @Callable
                    public String greet(@Arg("name") String name, @Arg(value = "greeting", fallback = "\\"hello\\"") String greeting) {
                        return greeting + " " + name + " from " + answer();
                    }
                }
                """.formatted(id, answer, simple, answer);
    }

    /** Writes {@code jar} beside {@code target} under a name that is not a jar's, then moves it into place in one step. */
    public static Path moveInto(byte[] jar, Path target) {
        try {
            Path tmp = target.resolveSibling("." + target.getFileName() + ".part");
            Files.write(tmp, jar);
            return Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code jar} over {@code target} in place, as a plain copy does (the file is seen while it grows). */
    public static Path copyInto(byte[] jar, Path target) {
        try {
            return Files.write(target, jar);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What goes into one jar. */
    public static final class Builder {

        private final Map<String, String> sources = new LinkedHashMap<>();
        private final Set<String> drivers = new LinkedHashSet<>();
        private final Map<String, byte[]> entries = new LinkedHashMap<>();
        private Optional<String> driversFile = Optional.empty();
        private boolean withoutDriversFile;

        private Builder() {
        }

        /** The Java source of a top-level class named {@code className} (fully qualified). */
        public Builder source(String className, String code) {
            sources.put(className, code);
            return this;
        }

        /** A class to list in {@code META-INF/junction/drivers}. */
        public Builder driver(String className) {
            drivers.add(className);
            return this;
        }

        /** The text of {@code META-INF/junction/drivers} as it is, instead of the listed {@link #driver drivers}. */
        public Builder driversFile(String text) {
            driversFile = Optional.of(text);
            return this;
        }

        /** Leaves {@code META-INF/junction/drivers} out. */
        public Builder withoutDriversFile() {
            withoutDriversFile = true;
            return this;
        }

        /** Any other entry, such as a resource. */
        public Builder entry(String name, byte[] bytes) {
            entries.put(name, bytes.clone());
            return this;
        }

        /** Compiles the sources (failing with javac's messages) and answers the jar's bytes. */
        public byte[] build() {
            Path work = null;
            try {
                work = Files.createTempDirectory("plugin-jar-");
                Map<String, byte[]> classes = compile(work);
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                Manifest manifest = new Manifest();
                manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
                try (JarOutputStream jar = new JarOutputStream(bytes, manifest)) {
                    if (!withoutDriversFile) {
                        String text = driversFile.orElseGet(() -> "# drivers of this test plugin\n" + String.join("\n", drivers) + "\n");
                        put(jar, PluginLoader.DRIVERS_FILE, text.getBytes(StandardCharsets.UTF_8));
                    }
                    for (Map.Entry<String, byte[]> e : classes.entrySet()) {
                        put(jar, e.getKey(), e.getValue());
                    }
                    for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                        put(jar, e.getKey(), e.getValue());
                    }
                }
                return bytes.toByteArray();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                if (work != null) {
                    deleteTree(work);
                }
            }
        }

        private Map<String, byte[]> compile(Path work) throws IOException {
            Map<String, byte[]> classes = new LinkedHashMap<>();
            if (sources.isEmpty()) {
                return classes;
            }
            JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
            if (javac == null) {
                throw new IllegalStateException("no Java compiler in this runtime (java.home=" + System.getProperty("java.home")
                        + "); the tests need a JDK, not a JRE");
            }
            Path src = Files.createDirectories(work.resolve("src"));
            Path out = Files.createDirectories(work.resolve("classes"));
            List<File> files = new ArrayList<>();
            for (Map.Entry<String, String> e : sources.entrySet()) {
                Path file = src.resolve(e.getKey().replace('.', '/') + ".java");
                Files.createDirectories(file.getParent());
                Files.writeString(file, e.getValue());
                files.add(file.toFile());
            }
            DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
            try (StandardJavaFileManager fm = javac.getStandardFileManager(diagnostics, Locale.ROOT, StandardCharsets.UTF_8)) {
                List<String> options = List.of("-d", out.toString(), "-classpath", classPath(), "-proc:none",
                        "-encoding", "UTF-8", "-Xlint:none");
                boolean ok = javac.getTask(null, fm, diagnostics, options, null, fm.getJavaFileObjectsFromFiles(files)).call();
                if (!ok) {
                    StringBuilder msg = new StringBuilder("the plugin sources do not compile:");
                    for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
                        msg.append('\n').append(d.getKind()).append(" line ").append(d.getLineNumber()).append(": ")
                                .append(d.getMessage(Locale.ROOT));
                    }
                    throw new IllegalStateException(msg.toString());
                }
            }
            try (Stream<Path> walk = Files.walk(out)) {
                for (Path p : walk.filter(Files::isRegularFile).sorted().toList()) {
                    classes.put(out.relativize(p).toString().replace(File.separatorChar, '/'), Files.readAllBytes(p));
                }
            }
            return classes;
        }

        private static void put(JarOutputStream jar, String name, byte[] bytes) throws IOException {
            jar.putNextEntry(new JarEntry(name));
            jar.write(bytes);
            jar.closeEntry();
        }
    }

    /**
     * The test's class path, with the {@code Class-Path} of manifest-only jars (as Surefire starts tests with)
     * spelled out, so javac sees the same classes the test does.
     */
    static String classPath() {
        Set<String> entries = new LinkedHashSet<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (e.isEmpty()) {
                continue;
            }
            entries.add(e);
            Path p = Path.of(e);
            if (!e.endsWith(".jar") || !Files.isRegularFile(p)) {
                continue;
            }
            try (JarFile jar = new JarFile(p.toFile())) {
                Manifest m = jar.getManifest();
                String cp = m == null ? null : m.getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
                if (cp == null) {
                    continue;
                }
                URI base = p.toAbsolutePath().getParent().toUri();
                for (String item : cp.trim().split("\\s+")) {
                    URI uri = base.resolve(item);
                    if ("file".equals(uri.getScheme())) {
                        entries.add(Path.of(uri).toString());
                    }
                }
            } catch (IOException | IllegalArgumentException ex) {
                // Not a readable jar: javac will say so if it matters.
            }
        }
        return String.join(File.pathSeparator, entries);
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // A temp file left behind is harmless.
                }
            });
        } catch (IOException e) {
            // Same.
        }
    }
}
