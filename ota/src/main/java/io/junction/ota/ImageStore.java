package io.junction.ota;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The image files of the packages, one per package under {@code <data>/ota/images/}, and a bounded in-memory cache
 * of whole images so that many devices downloading the same image share one copy. Safe to call from any thread.
 */
final class ImageStore {

    /** An image written to a temporary file, with what was computed while writing it. */
    record Staged(Path file, long size, byte[] sha256) {
        String sha256Hex() {
            return HexFormat.of().formatHex(sha256);
        }
    }

    private final Path dir;
    private final long cacheLimit;
    private final LinkedHashMap<String, byte[]> cache = new LinkedHashMap<>(16, 0.75f, true);
    private long cached;

    ImageStore(Path dir, long cacheLimit) throws IOException {
        this.dir = dir;
        this.cacheLimit = cacheLimit;
        Files.createDirectories(dir);
        try (var files = Files.list(dir)) {
            // Uploads cut short by a crash leave temporary files behind; no one refers to them.
            for (Path p : (Iterable<Path>) files::iterator) {
                if (p.getFileName().toString().endsWith(".tmp")) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    Path path(String id) {
        return dir.resolve(id + ".bin");
    }

    /** Writes {@code image} to a temporary file (synced) and computes its SHA-256. */
    Staged stage(String id, byte[] image) throws IOException {
        Path tmp = dir.resolve(id + ".bin.tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(image);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        return new Staged(tmp, image.length, sha256(image));
    }

    /** Makes a staged image the image of package {@code id}. */
    void commit(Staged staged, String id) throws IOException {
        Files.move(staged.file(), path(id), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory();
    }

    void discard(Staged staged) {
        try {
            Files.deleteIfExists(staged.file());
        } catch (IOException e) {
            // a stray temporary file is removed at the next start
        }
    }

    void delete(String id) throws IOException {
        synchronized (cache) {
            byte[] b = cache.remove(id);
            if (b != null) {
                cached -= b.length;
            }
        }
        Files.deleteIfExists(path(id));
    }

    /**
     * The whole image, from the cache when it is there (the array is shared: never modify it). An image larger than
     * the cache is read from its file each time.
     */
    byte[] bytes(String id) throws IOException {
        synchronized (cache) {
            byte[] b = cache.get(id);
            if (b != null) {
                return b;
            }
        }
        byte[] b;
        try {
            b = Files.readAllBytes(path(id));
        } catch (NoSuchFileException e) {
            throw new IOException("the image file of package " + id + " is missing: " + path(id), e);
        }
        if (b.length <= cacheLimit) {
            synchronized (cache) {
                if (cache.putIfAbsent(id, b) == null) {
                    cached += b.length;
                    Iterator<Map.Entry<String, byte[]>> it = cache.entrySet().iterator();
                    while (cached > cacheLimit && it.hasNext()) {
                        Map.Entry<String, byte[]> eldest = it.next();
                        if (!eldest.getKey().equals(id)) {
                            cached -= eldest.getValue().length;
                            it.remove();
                        }
                    }
                }
            }
        }
        return b;
    }

    /** {@code length} bytes of the image from {@code offset}; the caller keeps within the image. */
    byte[] read(String id, long offset, int length) throws IOException {
        synchronized (cache) {
            byte[] b = cache.get(id);
            if (b != null) {
                byte[] out = new byte[length];
                System.arraycopy(b, (int) offset, out, 0, length);
                return out;
            }
        }
        if (Files.size(path(id)) <= cacheLimit) {
            byte[] whole = bytes(id);
            byte[] out = new byte[length];
            System.arraycopy(whole, (int) offset, out, 0, length);
            return out;
        }
        try (FileChannel ch = FileChannel.open(path(id), StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            while (b.hasRemaining()) {
                if (ch.read(b, offset + b.position()) < 0) {
                    throw new IOException("the image file of package " + id + " is shorter than expected");
                }
            }
            return b.array();
        }
    }

    private void syncDirectory() {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // some file systems cannot sync a directory; the rename is still atomic
        }
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
