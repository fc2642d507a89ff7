package io.earlystart.cli;

import io.earlystart.cli.SizeConverter;
import io.earlystart.cli.example.ExampleImages;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code earlystart example-images DIR}: writes a deterministic base/customised VM pair. */
@Command(name = "example-images", mixinStandardHelpOptions = true,
    description = {"Write a deterministic, realistic example VM pair into DIR:",
      "base-disk.img + base-memory.img (the base VM), disk.img + memory.img (the base with an",
      "application installed), vmstate and vm.json. Disks are real ext4 images built with",
      "e2fsprogs (mke2fs, debugfs; no mount needed)."})
public final class ExampleImagesCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Parameters(index = "0", paramLabel = "DIR", description = "Output directory (created if missing).")
  Path dir;

  @Option(names = "--seed", paramLabel = "N", defaultValue = "1",
      description = "Seed: same seed and sizes give byte-identical files (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--disk-size", paramLabel = "SIZE", defaultValue = "64M", converter = SizeConverter.class,
      description = "Size of each disk image, >= 16M, multiple of 4K (default: ${DEFAULT-VALUE}).")
  long diskSize;

  @Option(names = "--memory-size", paramLabel = "SIZE", defaultValue = "64M", converter = SizeConverter.class,
      description = "Size of each memory image, >= 4M, multiple of 4K (default: ${DEFAULT-VALUE}).")
  long memorySize;

  @Override
  public Integer call() throws Exception {
    ExampleImages.Result r = ExampleImages.generate(dir, new ExampleImages.Spec(seed, diskSize, memorySize));
    PrintWriter out = spec.commandLine().getOut();
    for (Path p : List.of(r.baseDisk(), r.baseMemory(), r.disk(), r.memory(), r.vmstate(), r.vmConfig())) {
      out.println(p + " " + Files.size(p) + " bytes");
    }
    out.flush();
    return 0;
  }
}
