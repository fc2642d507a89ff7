package io.earlystart.bench;

import io.earlystart.bench.ExternalTool.Step;
import io.earlystart.cli.example.ExampleImages;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The VM-synthesis tool chain of Ha et al. as a peer: {@code xdelta3 -9} of each whole image against
 * its base, then {@code xz -9} of each delta (and of vmstate and vm.json, which the earlystart overlay
 * carries too); back again with {@code xz -d}, then {@code xdelta3 -d -s BASE}. Single-threaded tools
 * ({@code xz -T1}); by default one command after the other as in the paper. Variants:
 * {@code parallel} runs the disk, memory and attachment pipelines at the same time (one process per
 * pipeline); {@code fullWindow} sets xdelta3's source window ({@code -B}) to the image size, so that
 * matches anywhere in the base are found (the default window is 64 MiB), at most xdelta3's maximum of
 * 2 GiB ("-B: maximum value: 2147483648"): an 8 GiB disk gets a 2 GiB window, which slides along the source
 * with the target's position. Immutable; thread-safe.
 */
final class XdeltaXzChain {
  private static final String XZ_SUFFIX = ".xz";
  private static final String DELTA_SUFFIX = ".vcdiff";

  private final boolean parallel;
  private final boolean fullWindow;

  XdeltaXzChain(boolean parallel, boolean fullWindow) {
    this.parallel = parallel;
    this.fullWindow = fullWindow;
  }

  /** Fails with an install hint when xdelta3 or xz is missing. */
  static void requireTools() {
    ExternalTool.require("xdelta3", "xdelta3");
    ExternalTool.require("xz", "xz-utils");
  }

  /**
   * Writes {@code disk.img.vcdiff.xz}, {@code memory.img.vcdiff.xz}, {@code vmstate.xz} and
   * {@code vm.json.xz} (the "overlay") into the empty directory {@code out}, plus the intermediate
   * {@code .vcdiff} files; returns the .xz files.
   */
  List<Path> create(ExampleImages.Result in, long imageSize, Path out) throws IOException, InterruptedException {
    List<List<Step>> pipelines = new ArrayList<>();
    pipelines.add(createImage(in.baseDisk(), in.disk(), imageSize, out));
    pipelines.add(createImage(in.baseMemory(), in.memory(), imageSize, out));
    List<Step> attachments = new ArrayList<>();
    for (Path a : List.of(in.vmstate(), in.vmConfig())) {
      attachments.add(Step.of(out.resolve(a.getFileName() + XZ_SUFFIX), "xz", "-9", "-k", "-f", "-T1", "-c",
          a.toString()));
    }
    pipelines.add(attachments);
    ExternalTool.runAll(pipelines, parallel);
    return overlayFiles(in, out);
  }

  private List<Step> createImage(Path base, Path image, long imageSize, Path out) {
    Path delta = out.resolve(image.getFileName() + DELTA_SUFFIX);
    List<String> xdelta = new ArrayList<>(List.of("xdelta3", "-9", "-e", "-f"));
    window(xdelta, imageSize);
    xdelta.addAll(List.of("-s", base.toString(), image.toString(), delta.toString()));
    return List.of(new Step(xdelta, null), Step.of(null, "xz", "-9", "-k", "-f", "-T1", delta.toString()));
  }

  /** The .xz files {@link #create} writes into {@code dir}. */
  static List<Path> overlayFiles(ExampleImages.Result in, Path dir) {
    List<Path> files = new ArrayList<>();
    for (Path p : List.of(in.disk(), in.memory())) {
      files.add(dir.resolve(p.getFileName() + DELTA_SUFFIX + XZ_SUFFIX));
    }
    for (Path p : List.of(in.vmstate(), in.vmConfig())) {
      files.add(dir.resolve(p.getFileName() + XZ_SUFFIX));
    }
    return files;
  }

  /**
   * From the .xz files in {@code deltas} (as written by {@link #create}) and the bases, writes
   * {@code disk.img}, {@code memory.img}, {@code vmstate} and {@code vm.json} into the empty
   * directory {@code out} (plus the intermediate {@code .vcdiff} files).
   */
  void synthesize(ExampleImages.Result in, long imageSize, Path deltas, Path out)
      throws IOException, InterruptedException {
    List<List<Step>> pipelines = new ArrayList<>();
    pipelines.add(synthesizeImage(in.baseDisk(), in.disk().getFileName().toString(), imageSize, deltas, out));
    pipelines.add(synthesizeImage(in.baseMemory(), in.memory().getFileName().toString(), imageSize, deltas, out));
    List<Step> attachments = new ArrayList<>();
    for (Path a : List.of(in.vmstate(), in.vmConfig())) {
      String name = a.getFileName().toString();
      attachments.add(Step.of(out.resolve(name), "xz", "-d", "-T1", "-c", deltas.resolve(name + XZ_SUFFIX).toString()));
    }
    pipelines.add(attachments);
    ExternalTool.runAll(pipelines, parallel);
  }

  private List<Step> synthesizeImage(Path base, String name, long imageSize, Path deltas, Path out) {
    Path delta = out.resolve(name + DELTA_SUFFIX);
    List<String> xdelta = new ArrayList<>(List.of("xdelta3", "-d", "-f"));
    window(xdelta, imageSize);
    xdelta.addAll(List.of("-s", base.toString(), delta.toString(), out.resolve(name).toString()));
    return List.of(
        Step.of(delta, "xz", "-d", "-T1", "-c", deltas.resolve(name + DELTA_SUFFIX + XZ_SUFFIX).toString()),
        new Step(xdelta, null));
  }

  /** xdelta3's largest source window ({@code -B}). */
  static final long MAX_WINDOW = 1L << 31;

  private void window(List<String> xdelta, long imageSize) {
    if (fullWindow) {
      xdelta.addAll(List.of("-B", Long.toString(Math.min(imageSize, MAX_WINDOW))));
    }
  }
}
