package io.junction.devices.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.junction.core.Json;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A driver written in Java: metadata read once from its annotations ({@link DriverInfo}, {@link Implements},
 * {@link Requires}, {@link Callable}, {@link Arg}), functions called through method handles found at load time, so a
 * call does no reflection.
 */
public final class JavaDriverType implements DriverType {

    private final Class<? extends Driver> type;
    private final DriverMetadata metadata;
    private final String source;
    private final MethodHandle constructor;
    private final Map<String, Call> calls;
    private final List<ObjectNode> jobs;

    /** How to call one function: its handle (spread over an Object[]) and how to turn each JSON argument into Java. */
    private record Call(MethodHandle handle, Class<?>[] params) {
    }

    private JavaDriverType(Class<? extends Driver> type, DriverMetadata metadata, String source, MethodHandle constructor,
                           Map<String, Call> calls, List<ObjectNode> jobs) {
        this.jobs = List.copyOf(jobs);
        this.type = type;
        this.metadata = metadata;
        this.source = source;
        this.constructor = constructor;
        this.calls = calls;
    }

    /**
     * Reads a driver class. Throws {@link IllegalArgumentException} saying what is wrong: not a public {@link Driver}
     * with a public no-argument constructor, no {@link DriverInfo}, an unnamed parameter, an unsupported parameter type,
     * a default that is not JSON or not of the parameter's type, two functions with one name.
     */
    public static JavaDriverType of(Class<?> cls, String source) {
        if (!Driver.class.isAssignableFrom(cls)) {
            throw new IllegalArgumentException(cls.getName() + " does not implement " + Driver.class.getName());
        }
        if (!Modifier.isPublic(cls.getModifiers()) || Modifier.isAbstract(cls.getModifiers())) {
            throw new IllegalArgumentException(cls.getName() + " must be a public, concrete class");
        }
        @SuppressWarnings("unchecked")
        Class<? extends Driver> type = (Class<? extends Driver>) cls;
        DriverInfo info = cls.getAnnotation(DriverInfo.class);
        if (info == null) {
            throw new IllegalArgumentException(cls.getName() + " needs a @DriverInfo(id = \"...\") annotation");
        }
        MethodHandles.Lookup lookup = MethodHandles.publicLookup();
        MethodHandle constructor;
        try {
            constructor = lookup.findConstructor(cls, MethodType.methodType(void.class));
        } catch (NoSuchMethodException | IllegalAccessException e) {
            throw new IllegalArgumentException(cls.getName() + " needs a public constructor without arguments");
        }
        Map<String, FunctionSpec> functions = new LinkedHashMap<>();
        Map<String, Call> calls = new HashMap<>();
        Method[] methods = cls.getMethods();
        Arrays.sort(methods, Comparator.comparing(Method::getName));
        for (Method m : methods) {
            Callable callable = m.getAnnotation(Callable.class);
            if (callable == null) {
                continue;
            }
            if (Modifier.isStatic(m.getModifiers())) {
                throw new IllegalArgumentException(cls.getName() + "." + m.getName() + " is static; a @Callable function must be an instance method");
            }
            if (functions.containsKey(m.getName())) {
                throw new IllegalArgumentException(cls.getName() + " has two @Callable functions named " + m.getName());
            }
            List<Param> params = new ArrayList<>();
            for (Parameter p : m.getParameters()) {
                params.add(param(cls, m, p));
            }
            functions.put(m.getName(), new FunctionSpec(m.getName(), params, callable.role()));
            try {
                MethodHandle h = lookup.unreflect(m);
                calls.put(m.getName(), new Call(h.asSpreader(Object[].class, m.getParameterCount()), m.getParameterTypes()));
            } catch (IllegalAccessException e) {
                throw new IllegalArgumentException(cls.getName() + "." + m.getName() + " cannot be called: " + e.getMessage());
            }
        }
        Map<String, List<String>> requirements = new LinkedHashMap<>();
        for (Requires r : cls.getAnnotationsByType(Requires.class)) {
            requirements.put(r.module(), List.of(r.interfaces()));
        }
        Implements impl = cls.getAnnotation(Implements.class);
        String name = info.name().isEmpty() ? cls.getSimpleName() : info.name();
        DriverMetadata metadata = new DriverMetadata(info.id(), name, info.description(), functions,
                impl == null ? List.of() : List.of(impl.value()), requirements).validate();
        List<ObjectNode> jobs = List.of();
        if (JobSource.class.isAssignableFrom(cls)) {
            try {
                jobs = List.copyOf(((JobSource) constructor.invoke()).jobs());
            } catch (Throwable t) {
                throw new IllegalArgumentException(cls.getName() + ".jobs() failed: " + t);
            }
        }
        return new JavaDriverType(type, metadata, source, constructor, Map.copyOf(calls), jobs);
    }

    private static Param param(Class<?> cls, Method m, Parameter p) {
        Arg arg = p.getAnnotation(Arg.class);
        String where = cls.getName() + "." + m.getName();
        if (arg == null) {
            throw new IllegalArgumentException(where + ": parameter " + p.getName() + " needs @Arg(\"name\")");
        }
        List<ParamType> types = new ArrayList<>();
        Class<?> t = p.getType();
        if (t == String.class) {
            types.add(ParamType.STRING);
        } else if (t == int.class || t == Integer.class) {
            types.add(ParamType.INT32);
        } else if (t == long.class || t == Long.class) {
            types.add(ParamType.INT64);
        } else if (t == double.class || t == Double.class) {
            types.add(ParamType.FLOAT64);
        } else if (t == boolean.class || t == Boolean.class) {
            types.add(ParamType.BOOL);
        } else if (t == ObjectNode.class) {
            types.add(ParamType.OBJECT);
        } else if (t == ArrayNode.class) {
            types.add(ParamType.ARRAY);
        } else if (t == JsonNode.class) {
            if (arg.types().length == 0) {
                types.add(ParamType.JSON);
            }
            for (String s : arg.types()) {
                types.add(ParamType.parse(s).orElseThrow(() -> new IllegalArgumentException(where + ": parameter "
                        + arg.value() + ": unknown type '" + s + "'; use " + Arrays.toString(ParamType.values()))));
            }
        } else {
            throw new IllegalArgumentException(where + ": parameter " + arg.value() + " has type " + t.getSimpleName()
                    + "; use String, int, long, double, boolean, ObjectNode, ArrayNode or JsonNode");
        }
        if (t != JsonNode.class && arg.types().length > 0) {
            throw new IllegalArgumentException(where + ": parameter " + arg.value() + ": types = {...} is only for JsonNode parameters");
        }
        Optional<JsonNode> fallback = Optional.empty();
        if (!arg.fallback().isEmpty()) {
            try {
                fallback = Optional.of(Json.parse(arg.fallback()));
            } catch (Exception e) {
                throw new IllegalArgumentException(where + ": parameter " + arg.value() + ": the default '" + arg.fallback()
                        + "' is not JSON (write strings in quotes: \"\\\"hdmi\\\"\")");
            }
        }
        return new Param(arg.value(), types, fallback);
    }

    /** The driver's class, for the plugin loader to tell versions apart. */
    public Class<? extends Driver> type() {
        return type;
    }

    @Override
    public List<ObjectNode> jobs() {
        return jobs;
    }

    @Override
    public DriverMetadata metadata() {
        return metadata;
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public Driver create() throws Exception {
        try {
            return (Driver) constructor.invoke();
        } catch (Exception | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public Object call(Driver instance, FunctionSpec function, List<JsonNode> args) throws Throwable {
        Call call = calls.get(function.name());
        if (call == null) {
            throw new ExecException(ExecException.Code.BAD_REQUEST, "driver " + metadata.id() + " has no function " + function.name());
        }
        Object[] values = new Object[call.params.length];
        for (int i = 0; i < values.length; i++) {
            values[i] = convert(args.get(i), call.params[i]);
        }
        return call.handle.invoke(instance, values);
    }

    private static Object convert(JsonNode v, Class<?> t) {
        if (t == String.class) {
            return v.isNull() ? null : v.asText();
        }
        if (t == int.class || t == Integer.class) {
            return v.isNull() ? null : v.asInt();
        }
        if (t == long.class || t == Long.class) {
            return v.isNull() ? null : v.asLong();
        }
        if (t == double.class || t == Double.class) {
            return v.isNull() ? null : v.asDouble();
        }
        if (t == boolean.class || t == Boolean.class) {
            return v.isNull() ? null : v.asBoolean();
        }
        return v;
    }
}
