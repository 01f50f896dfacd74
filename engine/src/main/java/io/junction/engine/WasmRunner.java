package io.junction.engine;

import com.dylibso.chicory.compiler.MachineFactoryCompiler;
import com.dylibso.chicory.runtime.ChicoryInterruptedException;
import com.dylibso.chicory.runtime.ExportFunction;
import com.dylibso.chicory.runtime.HostFunction;
import com.dylibso.chicory.runtime.ImportValues;
import com.dylibso.chicory.runtime.Instance;
import com.dylibso.chicory.runtime.Machine;
import com.dylibso.chicory.runtime.Memory;
import com.dylibso.chicory.runtime.TrapException;
import com.dylibso.chicory.wasm.ChicoryException;
import com.dylibso.chicory.wasm.Parser;
import com.dylibso.chicory.wasm.WasmModule;
import com.dylibso.chicory.wasm.types.FunctionType;
import com.dylibso.chicory.wasm.types.MemoryLimits;
import com.dylibso.chicory.wasm.types.ValType;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;

import io.junction.core.Json;
import io.junction.core.Message;
import io.junction.core.stream.StreamEntry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * A WASM module run by Chicory (pure Java; compiled to JVM bytecode when loaded), following the engine's ABI
 * ({@code docs/engine.md}, "The WASM ABI"): the host asks the module for a buffer with {@code alloc(len)}, writes the
 * message there as JSON and calls {@code process(ptr, len)}; the module gives outputs through the imports of module
 * {@code "junction"}. A module sees nothing but its own memory and these imports.
 */
final class WasmRunner implements Runner {

    static final String IMPORTS = "junction";
    private static final int PAGE = 65536;

    /** A parsed and compiled module, shared by every instance of one version of a script. */
    static final class Module {
        final WasmModule module;
        final Function<Instance, Machine> machine;
        final MemoryLimits limits;

        private Module(WasmModule module, Function<Instance, Machine> machine, MemoryLimits limits) {
            this.module = module;
            this.machine = machine;
            this.limits = limits;
        }
    }

    /** Parses and compiles {@code bytes}; its memory may grow to at most {@code memoryLimitBytes}. */
    static Module compile(byte[] bytes, long memoryLimitBytes) {
        WasmModule module;
        try {
            module = Parser.parse(bytes);
        } catch (ChicoryException | IllegalArgumentException e) {
            throw new ScriptRejectedException("not a valid WASM module: " + e.getMessage(), 0);
        }
        var memories = module.memorySection();
        if (memories.isEmpty() || memories.get().memoryCount() == 0) {
            throw new ScriptRejectedException("the module must define and export its memory as \"memory\"", 0);
        }
        MemoryLimits declared = memories.get().getMemory(0).limits();
        int cap = (int) Math.max(1, Math.min(MemoryLimits.MAX_PAGES, memoryLimitBytes / PAGE));
        int max = Math.min(declared.maximumPages(), cap);
        if (declared.initialPages() > max) {
            throw new ScriptRejectedException("the module starts with " + declared.initialPages()
                    + " pages of memory; the memory limit allows " + cap + " (64 KiB each)", 0);
        }
        Function<Instance, Machine> machine;
        try {
            machine = MachineFactoryCompiler.compile(module);
        } catch (RuntimeException e) {
            throw new ScriptRejectedException("the module cannot be compiled: " + e.getMessage(), 0);
        }
        return new Module(module, machine, new MemoryLimits(declared.initialPages(), max));
    }

    /** A failure raised inside an import, carried out through Chicory to {@link #process}. */
    private static final class HostFailure extends RuntimeException {
        final ScriptFailure failure;

        HostFailure(ScriptFailure failure) {
            super(failure.getMessage(), null, false, false);
            this.failure = failure;
        }
    }

    /** A growable buffer whose bytes are written to the module's memory without a copy. */
    private static final class Bytes extends ByteArrayOutputStream {
        Bytes() {
            super(1024);
        }

        byte[] array() {
            return buf;
        }
    }

    private final Host host;
    private final Instance instance;
    private final Memory memory;
    private final ExportFunction alloc;
    private final ExportFunction processFn;
    private final Optional<ExportFunction> closeFn;
    private final Bytes buffer = new Bytes();

    // The message being processed and where its outputs go; set for the length of one call.
    private StreamEntry current;
    private JsonNode currentBody;
    private Outputs outputs;

    WasmRunner(Module module, ScriptSource source, Host host, Guard guard) {
        this.host = host;
        long call = guard.enterLoading(this);
        try {
            instance = Instance.builder(module.module)
                    .withImportValues(imports())
                    .withMachineFactory(module.machine)
                    .withMemoryLimits(module.limits)
                    .build();
            memory = instance.memory();
            alloc = export("alloc", FunctionType.of(List.of(ValType.I32), List.of(ValType.I32)), true).orElseThrow();
            processFn = export("process", FunctionType.of(List.of(ValType.I32, ValType.I32), List.of(ValType.I32)), true).orElseThrow();
            closeFn = export("close", FunctionType.of(List.of(), List.of()), false);
            Optional<ExportFunction> init = export("init", FunctionType.of(List.of(ValType.I32, ValType.I32), List.of(ValType.I32)), false);
            if (init.isPresent()) {
                byte[] context = Json.write(java.util.Map.of("name", source.name(), "bind", source.bindValues()))
                        .getBytes(StandardCharsets.UTF_8);
                int ptr = buffer(context.length);
                memory.write(ptr, context);
                long rc = init.get().apply(ptr, context.length)[0];
                if ((int) rc != 0) {
                    throw new ScriptRejectedException("init returned " + (int) rc + " (0 means success)", 0);
                }
            }
        } catch (ChicoryException | HostFailure e) {
            Limit limit = guard.stoppedBy(call);
            if (limit != null) {
                throw new ScriptRejectedException("loading the module was stopped by the " + limit.label, 0);
            }
            throw new ScriptRejectedException("the module cannot be instantiated: " + e.getMessage(), 0);
        } finally {
            guard.exit();
        }
    }

    private Optional<ExportFunction> export(String name, FunctionType type, boolean required) {
        FunctionType actual;
        try {
            actual = instance.exportType(name);
        } catch (RuntimeException e) {
            actual = null;
        }
        if (actual == null) {
            if (required) {
                throw new ScriptRejectedException("the module must export a function \"" + name + "\" " + signature(type), 0);
            }
            return Optional.empty();
        }
        if (!actual.typesMatch(type)) {
            throw new ScriptRejectedException("the module's export \"" + name + "\" must have the type " + signature(type)
                    + ", not " + signature(actual), 0);
        }
        return Optional.of(instance.export(name));
    }

    private static String signature(FunctionType t) {
        return "(" + String.join(", ", t.params().stream().map(ValType::toString).toList()) + ") -> ("
                + String.join(", ", t.returns().stream().map(ValType::toString).toList()) + ")";
    }

    private ImportValues imports() {
        FunctionType i32i32 = FunctionType.of(List.of(ValType.I32, ValType.I32), List.of());
        return ImportValues.builder().addFunction(
                new HostFunction(IMPORTS, "emit", i32i32, (inst, args) -> {
                    emit(string(args[0], args[1]));
                    return null;
                }),
                new HostFunction(IMPORTS, "emit_value", FunctionType.of(List.of(ValType.I32, ValType.I32, ValType.F64), List.of()),
                        (inst, args) -> {
                            emitValue(string(args[0], args[1]), Double.longBitsToDouble(args[2]));
                            return null;
                        }),
                new HostFunction(IMPORTS, "log", i32i32, (inst, args) -> {
                    host.log(string(args[0], args[1]));
                    return null;
                }),
                new HostFunction(IMPORTS, "status_get",
                        FunctionType.of(List.of(ValType.I32, ValType.I32, ValType.I32, ValType.I32), List.of(ValType.I32)),
                        (inst, args) -> {
                            Optional<String> s = host.statusJson(string(args[0], args[1]));
                            if (s.isEmpty()) {
                                return new long[]{-1};
                            }
                            return new long[]{copyOut(s.get().getBytes(StandardCharsets.UTF_8), args[2], args[3])};
                        }),
                new HostFunction(IMPORTS, "input_key", FunctionType.of(List.of(ValType.I32, ValType.I32), List.of(ValType.I32)),
                        (inst, args) -> new long[]{copyOut(currentMessage().key().value().getBytes(StandardCharsets.UTF_8), args[0], args[1])}),
                new HostFunction(IMPORTS, "input_number", FunctionType.of(List.of(ValType.I32, ValType.I32), List.of(ValType.F64)),
                        (inst, args) -> new long[]{Double.doubleToRawLongBits(inputNumber(string(args[0], args[1])))})
        ).build();
    }

    private Message currentMessage() {
        if (current == null) {
            throw new HostFailure(ScriptFailure.error("input_key and input_number can only be called during process"));
        }
        return current.message();
    }

    private String string(long ptr, long len) {
        return memory.readString((int) ptr, (int) len, StandardCharsets.UTF_8);
    }

    /** Writes {@code bytes} at {@code ptr} when they fit in {@code cap}; returns their length either way. */
    private long copyOut(byte[] bytes, long ptr, long cap) {
        if (bytes.length <= (int) cap) {
            memory.write((int) ptr, bytes);
        }
        return bytes.length;
    }

    private double inputNumber(String field) {
        Message m = currentMessage();
        if (currentBody == null) {
            try {
                currentBody = Json.parse(m.body());
            } catch (IOException e) {
                return Double.NaN;
            }
        }
        JsonNode v = currentBody.get(field);
        return v != null && v.isNumber() ? v.doubleValue() : Double.NaN;
    }

    private void emit(String json) {
        if (outputs == null) {
            throw new HostFailure(ScriptFailure.error("emit can only be called during process"));
        }
        try {
            JsonNode o = Json.parse(json);
            if (o == null || !o.isObject() || !o.path("key").isTextual()) {
                throw new HostFailure(ScriptFailure.error("emit needs a JSON object {\"key\": \"...\", \"body\": ...}; got " + abbreviate(json)));
            }
            JsonNode body = o.get("body");
            if (body == null) {
                throw new HostFailure(ScriptFailure.error("the output for '" + o.get("key").asText() + "' has no \"body\""));
            }
            outputs.add(o.get("key").asText(), o.path("kind").asText(""), Json.MAPPER.writeValueAsString(body));
        } catch (IOException e) {
            throw new HostFailure(ScriptFailure.error("emit was given text that is not JSON: " + abbreviate(json)));
        } catch (ScriptFailure f) {
            throw new HostFailure(f);
        }
    }

    private void emitValue(String key, double value) {
        if (outputs == null) {
            throw new HostFailure(ScriptFailure.error("emit_value can only be called during process"));
        }
        if (!Double.isFinite(value)) {
            throw new HostFailure(ScriptFailure.error("emit_value got " + value + ", which JSON cannot hold"));
        }
        String number = value == Math.rint(value) && Math.abs(value) < 9.007199254740992E15
                ? Long.toString((long) value) : Double.toString(value);
        try {
            outputs.add(key, "", "{\"value\":" + number + "}");
        } catch (ScriptFailure f) {
            throw new HostFailure(f);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }

    /** A buffer of {@code len} bytes inside the module's memory, from its {@code alloc}. */
    private int buffer(int len) {
        long ptr = alloc.apply(len)[0];
        int p = (int) ptr;
        if (p < 0 || (long) p + len > (long) memory.pages() * PAGE) {
            throw new HostFailure(ScriptFailure.error("alloc(" + len + ") returned " + p
                    + ", which is not a buffer inside the module's memory of " + memory.pages() + " pages"));
        }
        return p;
    }

    @Override
    public void process(StreamEntry e, Outputs out) throws ScriptFailure {
        buffer.reset();
        try (JsonGenerator g = Json.generator(buffer)) {
            Json.writeMessage(g, e.message(), e.offset());
        } catch (IOException ex) {
            throw ScriptFailure.error("cannot write the message for the module: " + ex.getMessage());
        }
        current = e;
        currentBody = null;
        outputs = out;
        try {
            int len = buffer.size();
            int ptr = buffer(len);
            memory.write(ptr, buffer.array(), 0, len);
            long rc = processFn.apply(ptr, len)[0];
            if ((int) rc != 0) {
                throw ScriptFailure.error("process returned " + (int) rc + " (0 means success)");
            }
        } catch (HostFailure f) {
            throw f.failure;
        } catch (ChicoryInterruptedException ex) {
            throw new ScriptFailure(ScriptFailure.Cause.STOPPED, "the call was interrupted", 0, true);
        } catch (TrapException ex) {
            throw ScriptFailure.error("trap: " + ex.getMessage());
        } catch (ChicoryException ex) {
            Throwable c = ex.getCause();
            if (c instanceof HostFailure f) {
                throw f.failure;
            }
            throw ScriptFailure.error(ex.getMessage());
        } catch (StackOverflowError ex) {
            throw new ScriptFailure(ScriptFailure.Cause.ERROR, "the module overflowed its call stack", 0, true);
        } finally {
            current = null;
            outputs = null;
        }
    }

    @Override
    public void stop(Limit limit, Guard guard, long call) {
        guard.interruptIfStill(call);
    }

    @Override
    public void close(Guard guard) {
        if (closeFn.isEmpty()) {
            return;
        }
        guard.enter(this);
        try {
            closeFn.get().apply();
        } catch (RuntimeException e) {
            host.log("close failed: " + e.getMessage());
        } finally {
            guard.exit();
        }
    }
}
