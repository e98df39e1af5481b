/*
 * The Java anchor of issue 18: Saxon-HE in a JVM (the engine KoSIT's validator runs), as the
 * reference our validation figures are measured against, in the same run.
 *
 * Usage (bench/validate.py --anchor and bench/coldstart.py build and run it for you):
 *   javac -cp /usr/share/java/Saxon-HE.jar -d OUT bench/jvm/Anchor.java
 *   java -cp OUT:/usr/share/java/Saxon-HE.jar Anchor --artefacts DIR [--threads 1,2]
 *        [--warmup 5] [--rounds 5] [--cold] FILE...
 *
 * Warm mode (default): compiles the XRechnung scenario's two published stylesheets per syntax
 * (EN 16931 + XRechnung, UBL and CII; only the syntaxes among the files) once, then for each thread count runs --warmup passes
 * over the files that are not counted (the JIT's warm-up) and --rounds counted passes, each
 * pass handing the files to a fixed pool of threads; prints "threads=N docs_per_s=X" (median
 * of the counted passes) and the per-document CPU time of one thread.
 * Cold mode (--cold): compile, then one pass over the files with the first thread count; the
 * whole process is the figure (timed from outside), and it prints its own split.
 *
 * Each document is parsed by Saxon (its own tree, as KoSIT does) and both layers are run on
 * it, their SVRL serialized to a string (as the gateway reads SVRL text).
 */
import java.io.File;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.xml.transform.stream.StreamSource;
import net.sf.saxon.s9api.DocumentBuilder;
import net.sf.saxon.s9api.Processor;
import net.sf.saxon.s9api.Serializer;
import net.sf.saxon.s9api.XdmNode;
import net.sf.saxon.s9api.Xslt30Transformer;
import net.sf.saxon.s9api.XsltCompiler;
import net.sf.saxon.s9api.XsltExecutable;

public final class Anchor {
    static final String[][] LAYERS = {
        {"en16931-1.3.16/EN16931-UBL-validation.xslt", "xrechnung-3.0.2/XRechnung-UBL-validation.xslt"},
        {"en16931-1.3.16/EN16931-CII-validation.xslt", "xrechnung-3.0.2/XRechnung-CII-validation.xslt"},
    };

    final Processor processor = new Processor(false);
    final XsltExecutable[][] layers = new XsltExecutable[2][];
    final ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
    final AtomicLong cpuNanos = new AtomicLong();

    /** Compiles the layers of the syntaxes in ``needed`` (0 UBL, 1 CII). */
    Anchor(File artefacts, boolean[] needed) throws Exception {
        XsltCompiler compiler = processor.newXsltCompiler();
        for (int s = 0; s < 2; s++) {
            if (!needed[s]) {
                continue;
            }
            layers[s] = new XsltExecutable[LAYERS[s].length];
            for (int i = 0; i < LAYERS[s].length; i++) {
                layers[s][i] = compiler.compile(new StreamSource(new File(artefacts, LAYERS[s][i])));
            }
        }
    }

    static int syntax(File f) throws Exception {
        byte[] head = Files.readAllBytes(f.toPath());
        String start = new String(head, 0, Math.min(head.length, 4000), "UTF-8");
        return start.contains("CrossIndustryInvoice") ? 1 : 0;
    }

    /** Parse one file and run both layers on it; the SVRL length (so nothing is optimised away). */
    long validate(File f, int syntax) throws Exception {
        long t0 = cpu.getCurrentThreadCpuTime();
        DocumentBuilder builder = processor.newDocumentBuilder();
        XdmNode doc = builder.build(new StreamSource(f));
        long total = 0;
        for (XsltExecutable layer : layers[syntax]) {
            Xslt30Transformer t = layer.load30();
            t.setGlobalContextItem(doc);
            StringWriter out = new StringWriter();
            Serializer ser = processor.newSerializer(out);
            t.applyTemplates(doc, ser);
            total += out.getBuffer().length();
        }
        cpuNanos.addAndGet(cpu.getCurrentThreadCpuTime() - t0);
        return total;
    }

    /** One pass over the files on ``pool``; its wall seconds. */
    double pass(ExecutorService pool, int threads, File[] files, int[] syntaxes) throws Exception {
        AtomicInteger next = new AtomicInteger();
        List<Future<Long>> running = new ArrayList<>();
        long start = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            running.add(pool.submit(() -> {
                long sum = 0;
                for (int i; (i = next.getAndIncrement()) < files.length; ) {
                    sum += validate(files[i], syntaxes[i]);
                }
                return sum;
            }));
        }
        for (Future<Long> f : running) {
            f.get();
        }
        return (System.nanoTime() - start) / 1e9;
    }

    public static void main(String[] args) throws Exception {
        long processStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        File artefacts = null;
        int[] threadCounts = {1, 2};
        int warmup = 5, rounds = 5;
        boolean cold = false;
        List<File> files = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--artefacts": artefacts = new File(args[++i]); break;
                case "--threads":
                    threadCounts = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                    break;
                case "--warmup": warmup = Integer.parseInt(args[++i]); break;
                case "--rounds": rounds = Integer.parseInt(args[++i]); break;
                case "--cold": cold = true; break;
                default: files.add(new File(args[i]));
            }
        }
        if (artefacts == null || files.isEmpty()) {
            System.err.println("usage: Anchor --artefacts DIR [--threads 1,2] [--warmup N] [--rounds N] [--cold] FILE...");
            System.exit(2);
        }
        File[] work = files.toArray(new File[0]);
        int[] syntaxes = new int[work.length];
        boolean[] needed = new boolean[2];
        for (int i = 0; i < work.length; i++) {
            syntaxes[i] = syntax(work[i]);
            needed[syntaxes[i]] = true;
        }
        long t0 = System.nanoTime();
        Anchor anchor = new Anchor(artefacts, needed);
        double compile = (System.nanoTime() - t0) / 1e9;
        if (cold) {
            int threads = threadCounts[0];
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            double seconds = anchor.pass(pool, threads, work, syntaxes);
            pool.shutdown();
            double sinceStart = (System.currentTimeMillis() - processStart) / 1e3;
            System.out.printf("cold threads=%d files=%d compile_s=%.3f pass_s=%.3f since_jvm_start_s=%.3f%n",
                threads, work.length, compile, seconds, sinceStart);
            return;
        }
        System.out.printf("compile_s=%.3f files=%d warmup=%d rounds=%d%n", compile, work.length, warmup, rounds);
        for (int threads : threadCounts) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            for (int w = 0; w < warmup; w++) {
                anchor.pass(pool, threads, work, syntaxes);
            }
            double[] rates = new double[rounds];
            anchor.cpuNanos.set(0);
            for (int r = 0; r < rounds; r++) {
                rates[r] = work.length / anchor.pass(pool, threads, work, syntaxes);
            }
            pool.shutdown();
            Arrays.sort(rates);
            double cpuMs = anchor.cpuNanos.get() / 1e6 / (rounds * (double) work.length);
            System.out.printf("threads=%d docs_per_s=%.1f min=%.1f max=%.1f cpu_ms_per_doc=%.3f pass_s=%.4f%n",
                threads, rates[rounds / 2], rates[0], rates[rounds - 1], cpuMs, work.length / rates[rounds / 2]);
        }
    }
}
