package io.junction.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * CPU time and memory of the processes a bench run involves (the server, the engines, the bench itself), read from the
 * kernel ({@code ProcessHandle.Info.totalCpuDuration()}, i.e. utime + stime of {@code /proc/<pid>/stat};
 * {@code /proc/<pid>/status} and {@code smaps_rollup} for memory), and the whole machine's busy time from
 * {@code /proc/stat}: the cores are shared, so what the engines use is what Junction does not get.
 */
final class Usage {

    /** A process to watch; with {@code tree} its live descendants count too (PostgreSQL's backends). */
    record Proc(String name, long pid, boolean tree) {
    }

    /** CPU nanoseconds per watched process at one instant, and the machine's busy and total jiffies. */
    record Sample(long nanos, Map<String, Long> cpuNanos, long machineBusy, long machineTotal) {
    }

    /** What a window between two samples cost, CPU seconds per watched process. */
    record Cost(double seconds, Map<String, Double> cpuSeconds, double machineBusyFraction) {

        /** CPU microseconds per unit of work (a message, an exec) for {@code name}; NaN when unknown. */
        double microsPer(String name, double units) {
            Double s = cpuSeconds.get(name);
            return s == null || units <= 0 ? Double.NaN : s * 1e6 / units;
        }

        /** The CPU seconds of every watched process except those named. */
        double cpuSecondsExcept(List<String> names) {
            double sum = 0;
            for (Map.Entry<String, Double> e : cpuSeconds.entrySet()) {
                if (!names.contains(e.getKey())) {
                    sum += e.getValue();
                }
            }
            return sum;
        }

        Map<String, Object> toJson(double units) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("windowSeconds", Math.round(seconds * 1000) / 1000.0);
            for (Map.Entry<String, Double> e : cpuSeconds.entrySet()) {
                m.put(e.getKey() + "CpuSeconds", Math.round(e.getValue() * 1000) / 1000.0);
                if (units > 0) {
                    m.put(e.getKey() + "CpuMicrosPerUnit", Math.round(e.getValue() * 1e7 / units) / 10.0);
                }
            }
            m.put("machineBusyPercent", Math.round(machineBusyFraction * 1000) / 10.0);
            return m;
        }
    }

    private final List<Proc> procs;

    Usage(List<Proc> procs) {
        this.procs = List.copyOf(procs);
    }

    Sample sample() {
        Map<String, Long> cpu = new LinkedHashMap<>();
        for (Proc p : procs) {
            cpu.put(p.name(), cpuNanos(p));
        }
        long[] m = machine();
        return new Sample(System.nanoTime(), cpu, m[0], m[1]);
    }

    static Cost between(Sample a, Sample b) {
        Map<String, Double> cpu = new LinkedHashMap<>();
        for (Map.Entry<String, Long> e : b.cpuNanos().entrySet()) {
            Long before = a.cpuNanos().get(e.getKey());
            if (before != null && before >= 0 && e.getValue() >= 0) {
                cpu.put(e.getKey(), (e.getValue() - before) / 1e9);
            }
        }
        long total = b.machineTotal() - a.machineTotal();
        double busy = total > 0 ? (double) (b.machineBusy() - a.machineBusy()) / total : Double.NaN;
        return new Cost((b.nanos() - a.nanos()) / 1e9, cpu, busy);
    }

    /** Memory in kB per watched process: VmRSS, or for a tree the sum of its processes' PSS (shared pages split). */
    Map<String, Long> memoryKb() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Proc p : procs) {
            m.put(p.name(), p.tree() ? treePssKb(p.pid()) : JunctionServer.rssKb(p.pid()));
        }
        return m;
    }

    private static long cpuNanos(Proc p) {
        ProcessHandle root = ProcessHandle.of(p.pid()).orElse(null);
        if (root == null) {
            return -1;
        }
        Stream<ProcessHandle> all = p.tree() ? Stream.concat(Stream.of(root), root.descendants()) : Stream.of(root);
        return all.mapToLong(h -> h.info().totalCpuDuration().map(Duration::toNanos).orElse(0L)).sum();
    }

    private static long treePssKb(long pid) {
        ProcessHandle root = ProcessHandle.of(pid).orElse(null);
        if (root == null) {
            return -1;
        }
        List<ProcessHandle> all = new ArrayList<>();
        all.add(root);
        root.descendants().forEach(all::add);
        long sum = 0;
        for (ProcessHandle h : all) {
            long pss = pssKb(h.pid());
            sum += pss >= 0 ? pss : Math.max(0, JunctionServer.rssKb(h.pid()));
        }
        return sum;
    }

    private static long pssKb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup"), StandardCharsets.UTF_8)) {
                if (line.startsWith("Pss:")) {
                    return Long.parseLong(line.substring(4).trim().toLowerCase(Locale.ROOT).replace("kb", "").trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** {busy, total} jiffies of all cores from the first line of /proc/stat; {0, 0} when unreadable. */
    private static long[] machine() {
        try {
            String first = Files.readAllLines(Path.of("/proc/stat"), StandardCharsets.US_ASCII).getFirst();
            return parseCpuLine(first);
        } catch (IOException | RuntimeException e) {
            return new long[]{0, 0};
        }
    }

    /** {busy, total} from {@code cpu user nice system idle iowait irq softirq steal ...}: busy excludes idle and iowait. */
    static long[] parseCpuLine(String line) {
        String[] f = line.trim().split("\\s+");
        long total = 0;
        long idle = 0;
        // Fields 1..8: guest times (9, 10) are already inside user and nice.
        for (int i = 1; i < f.length && i <= 8; i++) {
            long v = Long.parseLong(f[i]);
            total += v;
            if (i == 4 || i == 5) {
                idle += v;
            }
        }
        return new long[]{total - idle, total};
    }
}
