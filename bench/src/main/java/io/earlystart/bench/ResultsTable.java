package io.earlystart.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns the CSV result file of a {@link CreateSynthesizeBenchmark} run ({@code -rf csv -rff FILE})
 * and the overlay sizes that run recorded in its workload directory into the Markdown summary of
 * bench/RESULTS.md: sizes, times and the ratios against earlystart, and whether the targets of the
 * issue are met (smaller than xdelta3 + xz, at least 10x faster to create and to synthesize). Adds
 * no figure of its own.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar io.earlystart.bench.ResultsTable results.csv [WORK_ROOT]
 * </pre>
 */
public final class ResultsTable {
  private static final String BENCH = CreateSynthesizeBenchmark.class.getName() + ".";
  private static final String PAPER_CHAIN = "xdelta3+xz";
  private static final double TARGET_SPEEDUP = 10;

  private record Score(double seconds, double error, int samples) {
    String format() {
      return Double.isNaN(error) ? String.format(Locale.ROOT, "%.2f", seconds)
          : String.format(Locale.ROOT, "%.2f ± %.2f", seconds, error);
    }
  }

  private ResultsTable() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1 || args.length > 2) {
      System.err.println("usage: ResultsTable RESULTS.csv [WORK_ROOT]");
      System.exit(2);
    }
    Path root = args.length == 2 ? Path.of(args[1]) : ExampleWorkload.root();
    System.out.print(render(Path.of(args[0]), root));
  }

  static String render(Path csv, Path root) throws IOException {
    Map<String, Score> create = new LinkedHashMap<>();
    Map<String, Score> synthesize = new LinkedHashMap<>();
    Score cold = null;
    Score noSync = null;
    Map<String, Score> floors = new LinkedHashMap<>();
    String size = null;
    List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
    List<String> header = fields(lines.get(0));
    int iBench = header.indexOf("Benchmark");
    int iScore = header.indexOf("Score");
    int iError = header.indexOf("Score Error (99.9%)");
    int iSamples = header.indexOf("Samples");
    int iUnit = header.indexOf("Unit");
    int iSize = header.indexOf("Param: sizeMiB");
    int iTool = header.indexOf("Param: tool");
    int iFloor = header.indexOf("Param: floor");
    for (String line : lines.subList(1, lines.size())) {
      List<String> f = fields(line);
      if (!f.get(iBench).startsWith(BENCH)) {
        continue;
      }
      if (!f.get(iUnit).equals("s/op")) {
        throw new IOException(csv + ": expected s/op, found " + f.get(iUnit));
      }
      if (size != null && !size.equals(f.get(iSize))) {
        throw new IOException(csv + ": more than one sizeMiB (" + size + ", " + f.get(iSize) + "); one per file");
      }
      size = f.get(iSize);
      Score s = new Score(Double.parseDouble(f.get(iScore)), Double.parseDouble(f.get(iError)),
          Integer.parseInt(f.get(iSamples)));
      String tool = iTool >= 0 && iTool < f.size() ? f.get(iTool) : "";
      switch (f.get(iBench).substring(BENCH.length())) {
        case "create" -> create.put(tool, s);
        case "synthesize" -> synthesize.put(tool, s);
        case "createColdIndex" -> cold = s;
        case "synthesizeNoSync" -> noSync = s;
        case "baseCopyFloor" -> floors.put(iFloor >= 0 && iFloor < f.size() ? f.get(iFloor) : "", s);
        default -> { }
      }
    }
    if (size == null) {
      throw new IOException(csv + " holds no " + BENCH + "* result");
    }
    Path work = root.resolve("example-seed" + ExampleWorkload.SEED + "-" + size + "m");
    Map<String, Long> sizes = new LinkedHashMap<>();
    List<String> tools = new ArrayList<>(create.keySet());
    synthesize.keySet().stream().filter(t -> !tools.contains(t)).forEach(tools::add);
    for (String tool : tools) {
      Path p = work.resolve("sizes-" + CreateSynthesizeBenchmark.safe(tool) + ".txt");
      if (Files.isRegularFile(p)) {
        sizes.put(tool, Long.parseLong(Files.readString(p, StandardCharsets.UTF_8).strip()));
      }
    }
    String es = CreateSynthesizeBenchmark.EARLYSTART;
    StringBuilder out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "Example pair: %s MiB disk + %s MiB memory (seed %d). Times in seconds "
        + "(mean ± 99.9%% error over the samples); speedup = tool time / earlystart time; size ratio = earlystart "
        + "overlay / tool overlay.%n%n", size, size, ExampleWorkload.SEED));
    out.append("| tool | overlay bytes | earlystart size ratio | create s | earlystart create speedup "
        + "| synthesize s | earlystart synthesize speedup |\n");
    out.append("|---|---:|---:|---:|---:|---:|---:|\n");
    for (String tool : tools) {
      boolean self = tool.equals(es);
      out.append("| ").append(self ? es + " (base index cached)" : tool)
          .append(" | ").append(sizes.containsKey(tool) ? String.format(Locale.ROOT, "%,d", sizes.get(tool)) : "-")
          .append(" | ").append(self ? "1" : ratio(sizes.get(es), sizes.get(tool)))
          .append(" | ").append(create.containsKey(tool) ? create.get(tool).format() : "-")
          .append(" | ").append(self ? "1" : speedup(create.get(tool), create.get(es)))
          .append(" | ").append(synthesize.containsKey(tool) ? synthesize.get(tool).format() : "-")
          .append(" | ").append(self ? "1" : speedup(synthesize.get(tool), synthesize.get(es)))
          .append(" |\n");
      if (self && cold != null) {
        out.append("| ").append(es).append(" (base index cache deleted) | | | ").append(cold.format())
            .append(" | | | |\n");
      }
      if (self && noSync != null) {
        out.append("| ").append(es).append(" (synthesize --no-sync) | | | | | ").append(noSync.format())
            .append(" | |\n");
      }
    }
    out.append('\n');
    Score paperCreate = create.get(PAPER_CHAIN);
    Score paperSynth = synthesize.get(PAPER_CHAIN);
    if (sizes.containsKey(es) && sizes.containsKey(PAPER_CHAIN)) {
      double r = (double) sizes.get(es) / sizes.get(PAPER_CHAIN);
      out.append(String.format(Locale.ROOT, "- size: earlystart overlay / %s = %.3f -> target (smaller) %s%n",
          PAPER_CHAIN, r, r < 1 ? "met" : "NOT met"));
    }
    target(out, "create (base index cached)", paperCreate, create.get(es));
    target(out, "create (base index cache deleted)", paperCreate, cold);
    target(out, "synthesize", paperSynth, synthesize.get(es));
    if (paperSynth != null && noSync != null) {
      out.append(String.format(Locale.ROOT, "- for comparison, synthesize --no-sync (no fsync, like the chain): "
          + "%s %.2f s / earlystart %.2f s = %.1fx%n", PAPER_CHAIN, paperSynth.seconds(), noSync.seconds(),
          paperSynth.seconds() / noSync.seconds()));
    }
    if (paperSynth != null) {
      for (Map.Entry<String, Score> e : floors.entrySet()) {
        double need = paperSynth.seconds() / TARGET_SPEEDUP;
        double floor = e.getValue().seconds();
        out.append(String.format(Locale.ROOT, "- floor: %s of both bases %.2f s; %.0fx the chain's synthesize is %.2f s, "
            + "%s%n", e.getKey(), floor, TARGET_SPEEDUP, need, floor < need
                ? String.format(Locale.ROOT, "%.2f s above this floor", need - floor)
                : String.format(Locale.ROOT, "%.2f s BELOW this floor: no synthesize that writes the images can reach it here",
                    floor - need)));
      }
    }
    return out.toString();
  }

  private static void target(StringBuilder out, String what, Score peer, Score ours) {
    if (peer == null || ours == null) {
      return;
    }
    double x = peer.seconds() / ours.seconds();
    out.append(String.format(Locale.ROOT, "- %s: %s %.2f s / earlystart %.2f s = %.1fx -> target (>= %.0fx) %s%n",
        what, PAPER_CHAIN, peer.seconds(), ours.seconds(), x, TARGET_SPEEDUP,
        x >= TARGET_SPEEDUP ? "met" : String.format(Locale.ROOT, "NOT met (earlystart would need to be %.1fx faster still)", TARGET_SPEEDUP / x)));
  }

  private static String ratio(Long ours, Long theirs) {
    return ours == null || theirs == null ? "-" : String.format(Locale.ROOT, "%.3f", (double) ours / theirs);
  }

  private static String speedup(Score theirs, Score ours) {
    return theirs == null || ours == null ? "-"
        : String.format(Locale.ROOT, "%.1fx", theirs.seconds() / ours.seconds());
  }

  /** Fields of one line of JMH's CSV (commas never occur inside its quoted fields). */
  private static List<String> fields(String line) {
    List<String> out = new ArrayList<>();
    for (String f : line.split(",", -1)) {
      f = f.strip();
      if (f.length() >= 2 && f.startsWith("\"") && f.endsWith("\"")) {
        f = f.substring(1, f.length() - 1);
      }
      out.add(f);
    }
    return out;
  }
}
