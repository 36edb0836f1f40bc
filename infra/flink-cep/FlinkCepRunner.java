import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.cep.CEP;
import org.apache.flink.cep.functions.PatternProcessFunction;
import org.apache.flink.cep.functions.TimedOutPartialMatchHandler;
import org.apache.flink.cep.nfa.aftermatch.AfterMatchSkipStrategy;
import org.apache.flink.cep.nfa.aftermatch.SkipToFirstStrategy;
import org.apache.flink.cep.nfa.aftermatch.SkipToLastStrategy;
import org.apache.flink.cep.pattern.MalformedPatternException;
import org.apache.flink.cep.pattern.Pattern;
import org.apache.flink.cep.pattern.WithinType;
import org.apache.flink.cep.pattern.conditions.IterativeCondition;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.DiscardingSink;
import org.apache.flink.util.Collector;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ArrayNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.File;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs Flink CEP cases described as JSON, for the differential test of libs/cep (test/cep/flink/).
 *
 * <p>Usage: {@code java FlinkCepRunner cases.json results.json}. Each case holds a pattern description (steps, groups,
 * NOT steps, quantifiers, conditions as data, skip strategy, within and its type) and a keyed stream. One mini
 * cluster serves every case; each case runs as its own job (parallelism 1, event time): a source of the case's
 * events, watermarks at the largest timestamp seen after every event, the bounded source's final MAX_WATERMARK,
 * keyBy on the event key, CEP, and a process function that records matches and timed-out partial matches.
 *
 * <p>A result is {@code {id, refused}} when Flink refuses the pattern (MalformedPatternException,
 * UnsupportedOperationException or IllegalArgumentException while it is defined or compiled), {@code {id, error}} when the job fails (e.g. throwExceptionOnMiss), else {@code {id, outputs}}: one
 * string per match ({@code M s0:1,2 s1:4}, steps sorted by name, event ids in match order) or timed-out partial match
 * ({@code T@<timeout timestamp> ...}).
 *
 * <p>With {@code -Dcepheus.mode=bench} (and {@code -Dcepheus.batch=1}) a result is {@code {id, matches, timedOut,
 * millis}} instead: counts, and the job's net run time (deployment included), for bench/cep.
 */
public final class FlinkCepRunner {
    /** Outputs by case id: the job's tasks run in this JVM, so a static map is how they report. */
    static final Map<String, List<String>> OUTPUTS = new ConcurrentHashMap<>();
    /** {@code -Dcepheus.mode=bench}: count matches and timeouts instead of recording them, and report the run time. */
    static final boolean BENCH = "bench".equals(System.getProperty("cepheus.mode"));
    static final Map<String, long[]> COUNTS = new ConcurrentHashMap<>();

    /** One event of a case (a Flink POJO: public fields, no-argument constructor). */
    public static final class Ev {
        public long id;
        public String key;
        public long ts;
        public String t;
        public int v;

        public Ev() {}

        @Override
        public String toString() {
            return "#" + id;
        }
    }

    /** A condition described as data, evaluated without code from the description. */
    static final class Cond extends IterativeCondition<Ev> {
        private final String kind;
        private final List<String> types;
        private final int min;
        private final String step;
        private final List<Cond> parts;

        Cond(JsonNode node) {
            this.kind = node.get("kind").asText();
            this.types = new ArrayList<>();
            if (node.has("types")) node.get("types").forEach(t -> types.add(t.asText()));
            this.min = node.has("min") ? node.get("min").asInt() : 0;
            this.step = node.has("step") ? node.get("step").asText() : null;
            this.parts = new ArrayList<>();
            if (node.has("all")) node.get("all").forEach(p -> parts.add(new Cond(p)));
        }

        @Override
        public boolean filter(Ev e, Context<Ev> ctx) throws Exception {
            switch (kind) {
                case "type":
                    return types.contains(e.t);
                case "value":
                    return e.v >= min;
                case "parity": {
                    int count = 0;
                    for (Ev ignored : ctx.getEventsForPattern(step)) count++;
                    return (e.v + count) % 2 == 0;
                }
                case "sum": {
                    int sum = 0;
                    for (Ev x : ctx.getEventsForPattern(step)) sum += x.v;
                    return e.v >= sum;
                }
                case "and":
                    for (Cond p : parts) if (!p.filter(e, ctx)) return false;
                    return true;
                default:
                    throw new IllegalStateException("unknown condition kind " + kind);
            }
        }
    }

    /** Records matches and timed-out partial matches of one case. */
    static final class Recorder extends PatternProcessFunction<Ev, String>
            implements TimedOutPartialMatchHandler<Ev> {
        private final String caseId;

        Recorder(String caseId) {
            this.caseId = caseId;
        }

        @Override
        public void processMatch(Map<String, List<Ev>> match, Context ctx, Collector<String> out) {
            if (BENCH) COUNTS.get(caseId)[0]++;
            else OUTPUTS.get(caseId).add("M " + show(match));
        }

        @Override
        public void processTimedOutMatch(Map<String, List<Ev>> match, Context ctx) {
            if (BENCH) COUNTS.get(caseId)[1]++;
            else OUTPUTS.get(caseId).add("T@" + ctx.timestamp() + " " + show(match));
        }

        private static String show(Map<String, List<Ev>> match) {
            StringBuilder sb = new StringBuilder();
            for (Map.Entry<String, List<Ev>> e : new TreeMap<>(match).entrySet()) {
                if (e.getValue().isEmpty()) continue;
                if (sb.length() > 0) sb.append(' ');
                sb.append(e.getKey()).append(':');
                for (int i = 0; i < e.getValue().size(); i++) {
                    if (i > 0) sb.append(',');
                    sb.append(e.getValue().get(i).id);
                }
            }
            return sb.toString();
        }
    }

    /** Watermark = the largest timestamp seen, emitted after every event; nothing periodic. */
    static final class MaxSeen implements WatermarkGenerator<Ev> {
        private long max = Long.MIN_VALUE;

        @Override
        public void onEvent(Ev event, long ts, WatermarkOutput output) {
            if (ts > max) max = ts;
            output.emitWatermark(new Watermark(max));
        }

        @Override
        public void onPeriodicEmit(WatermarkOutput output) {}
    }

    static AfterMatchSkipStrategy skipOf(JsonNode skip) {
        String kind = skip.get("kind").asText();
        String name = skip.has("step") ? skip.get("step").asText() : null;
        boolean throwOnMiss = skip.has("throwOnMiss") && skip.get("throwOnMiss").asBoolean();
        switch (kind) {
            case "noSkip":
                return AfterMatchSkipStrategy.noSkip();
            case "skipToNext":
                return AfterMatchSkipStrategy.skipToNext();
            case "skipPastLastEvent":
                return AfterMatchSkipStrategy.skipPastLastEvent();
            case "skipToFirst":
            case "skipToLast": {
                if (kind.equals("skipToFirst")) {
                    SkipToFirstStrategy s = AfterMatchSkipStrategy.skipToFirst(name);
                    return throwOnMiss ? s.throwExceptionOnMiss() : s;
                }
                SkipToLastStrategy s = AfterMatchSkipStrategy.skipToLast(name);
                return throwOnMiss ? s.throwExceptionOnMiss() : s;
            }
            default:
                throw new IllegalStateException("unknown skip strategy " + kind);
        }
    }

    /** Builds a sequence; {@code skip} is given for the top-level sequence only. */
    static Pattern<Ev, Ev> sequence(JsonNode elements, AfterMatchSkipStrategy skip) {
        Pattern<Ev, Ev> p = null;
        for (JsonNode el : elements) {
            String kind = el.get("kind").asText();
            String contiguity = el.has("contiguity") ? el.get("contiguity").asText() : "strict";
            if (kind.equals("group")) {
                Pattern<Ev, Ev> sub = sequence(el.get("elements"), null);
                Pattern<Ev, Ev> g;
                if (p == null) g = skip == null ? Pattern.begin(sub) : Pattern.begin(sub, skip);
                else if (contiguity.equals("strict")) g = p.next(sub);
                else if (contiguity.equals("relaxed")) g = p.followedBy(sub);
                else g = p.followedByAny(sub);
                p = quantify(g, el.get("quantifier"));
            } else if (kind.equals("notNext") || kind.equals("notFollowedBy")) {
                if (p == null) throw new MalformedPatternException("a NOT step cannot begin a pattern");
                p = kind.equals("notNext") ? p.notNext(el.get("name").asText()) : p.notFollowedBy(el.get("name").asText());
                p = p.where(new Cond(el.get("where")));
            } else {
                String name = el.get("name").asText();
                if (p == null) p = skip == null ? Pattern.begin(name) : Pattern.begin(name, skip);
                else if (contiguity.equals("strict")) p = p.next(name);
                else if (contiguity.equals("relaxed")) p = p.followedBy(name);
                else p = p.followedByAny(name);
                p = p.where(new Cond(el.get("where")));
                if (el.has("or")) p = p.or(new Cond(el.get("or")));
                p = quantify(p, el.get("quantifier"));
                if (el.has("until")) p = p.until(new Cond(el.get("until")));
            }
        }
        return p;
    }

    /** Applies a quantifier in the order the TypeScript side does: count, optional, inner contiguity, greedy. */
    static Pattern<Ev, Ev> quantify(Pattern<Ev, Ev> p, JsonNode q) {
        if (q == null) return p;
        String kind = q.get("kind").asText();
        switch (kind) {
            case "one":
                break;
            case "times":
                p = p.times(q.get("n").asInt());
                break;
            case "range":
                p = p.times(q.get("from").asInt(), q.get("to").asInt());
                break;
            case "oneOrMore":
                p = p.oneOrMore();
                break;
            case "timesOrMore":
                p = p.timesOrMore(q.get("n").asInt());
                break;
            default:
                throw new IllegalStateException("unknown quantifier " + kind);
        }
        if (q.has("optional") && q.get("optional").asBoolean()) p = p.optional();
        String inner = q.has("inner") ? q.get("inner").asText() : "relaxed";
        if (inner.equals("strict")) p = p.consecutive();
        if (inner.equals("any")) p = p.allowCombinations();
        if (q.has("greedy") && q.get("greedy").asBoolean()) p = p.greedy();
        return p;
    }

    static Pattern<Ev, Ev> patternOf(JsonNode description) {
        Pattern<Ev, Ev> p = sequence(description.get("elements"), skipOf(description.get("skip")));
        JsonNode within = description.get("within");
        if (within != null && !within.isNull()) {
            WithinType type = WithinType.valueOf(within.get("type").asText());
            p = p.within(Duration.ofMillis(within.get("ms").asLong()), type);
        }
        return p;
    }

    /** Adds one case's pipeline to {@code env}; false when Flink refuses the pattern. */
    static void addCase(StreamExecutionEnvironment env, String id, Pattern<Ev, Ev> pattern, List<Ev> events) {
        TypeInformation<Ev> type = TypeInformation.of(Ev.class);
        DataStream<Ev> stream = env.fromCollection(events, type)
                .assignTimestampsAndWatermarks(
                        WatermarkStrategy.<Ev>forGenerator(ctx -> new MaxSeen())
                                .withTimestampAssigner((e, previous) -> e.ts));
        CEP.pattern(stream.keyBy(e -> e.key, Types.STRING), pattern)
                .inEventTime()
                .process(new Recorder(id), Types.STRING)
                .addSink(new DiscardingSink<>());
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: FlinkCepRunner <cases.json> <results.json>");
            System.exit(2);
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode cases = json.readTree(new File(args[0]));
        int batchSize = Integer.parseInt(System.getProperty("cepheus.batch", "16"));

        Configuration conf = new Configuration();
        conf.setString("rest.bind-port", "0");
        conf.setString("taskmanager.memory.network.min", "16mb");
        conf.setString("taskmanager.memory.network.max", "16mb");
        MiniClusterConfiguration clusterConf = new MiniClusterConfiguration.Builder()
                .setConfiguration(conf)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(1)
                .build();
        ArrayNode results = json.createArrayNode();
        long started = System.nanoTime();
        try (MiniCluster cluster = new MiniCluster(clusterConf)) {
            cluster.start();
            List<JsonNode> batch = new ArrayList<>();
            for (JsonNode c : cases) {
                batch.add(c);
                if (batch.size() == batchSize) {
                    runBatch(cluster, batch, results, json);
                    batch.clear();
                }
            }
            if (!batch.isEmpty()) runBatch(cluster, batch, results, json);
        }
        json.writeValue(new File(args[1]), results);
        System.err.printf(
                "[flink-cep] %d cases in %.1f s%n", cases.size(), (System.nanoTime() - started) / 1e9);
        System.exit(0);
    }

    /** Runs cases as one job (independent pipelines); when the job fails, runs each case alone to tell which. */
    static void runBatch(MiniCluster cluster, List<JsonNode> batch, ArrayNode results, ObjectMapper json)
            throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1);
        List<JsonNode> accepted = new ArrayList<>();
        for (JsonNode c : batch) {
            String id = c.get("id").asText();
            try {
                Pattern<Ev, Ev> pattern = patternOf(c.get("pattern"));
                // Compiles the pattern now, so a refusal is reported per case and not as a failed job.
                org.apache.flink.cep.nfa.compiler.NFACompiler.compileFactory(pattern, true);
                addCase(env, id, pattern, eventsOf(c.get("events"), json));
                OUTPUTS.put(id, Collections.synchronizedList(new ArrayList<>()));
                COUNTS.put(id, new long[2]);
                accepted.add(c);
            } catch (MalformedPatternException | UnsupportedOperationException | IllegalArgumentException e) {
                // Flink's ways of refusing a pattern while it is defined or compiled.
                ObjectNode r = results.addObject();
                r.put("id", id);
                r.put("refused", String.valueOf(e.getMessage()));
            }
        }
        if (accepted.isEmpty()) return;
        boolean ok = true;
        String failure = null;
        long millis = -1;
        try {
            millis = cluster.executeJobBlocking(jobGraphOf(env)).getNetRuntime();
        } catch (Exception e) {
            ok = false;
            Throwable root = e;
            while (root.getCause() != null) root = root.getCause();
            failure = root.getClass().getSimpleName() + ": " + root.getMessage();
        }
        if (!ok && accepted.size() > 1) {
            for (JsonNode c : accepted) runBatch(cluster, List.of(c), results, json);
            return;
        }
        for (JsonNode c : accepted) {
            String id = c.get("id").asText();
            ObjectNode r = results.addObject();
            r.put("id", id);
            if (!ok) {
                r.put("error", failure);
            } else if (BENCH) {
                r.put("matches", COUNTS.get(id)[0]);
                r.put("timedOut", COUNTS.get(id)[1]);
                r.put("millis", millis);
            } else {
                ArrayNode outputs = r.putArray("outputs");
                for (String o : OUTPUTS.get(id)) outputs.add(o);
            }
            OUTPUTS.remove(id);
            COUNTS.remove(id);
        }
    }

    static JobGraph jobGraphOf(StreamExecutionEnvironment env) {
        return env.getStreamGraph().getJobGraph();
    }

    static List<Ev> eventsOf(JsonNode events, ObjectMapper json) {
        List<Ev> out = new ArrayList<>();
        for (JsonNode e : events) {
            Ev ev = new Ev();
            ev.id = e.get("id").asLong();
            ev.key = e.get("key").asText();
            ev.ts = e.get("ts").asLong();
            ev.t = e.get("t").asText();
            ev.v = e.get("v").asInt();
            out.add(ev);
        }
        return out;
    }
}
