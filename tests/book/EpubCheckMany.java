// EPUBCheck over many books in one JVM: the tests' session fixture checks the whole corpus, and
// a JVM's start is most of EPUBCheck's time on a small book. Each book's report (what the command
// line would print) follows a line "\u0001" + its path. Run in source-file mode:
// java -cp epubcheck.jar EpubCheckMany.java a.epub b.epub ...
import com.adobe.epubcheck.tool.EpubChecker;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

public class EpubCheckMany {
    public static void main(String[] paths) {
        PrintStream out = System.out;
        for (String path : paths) {
            ByteArrayOutputStream report = new ByteArrayOutputStream();
            PrintStream into = new PrintStream(report, true, StandardCharsets.UTF_8);
            System.setOut(into);
            System.setErr(into);
            new EpubChecker().run(new String[] {path});
            into.flush();
            out.println("\u0001" + path);
            out.print(report.toString(StandardCharsets.UTF_8));
        }
        out.flush();
    }
}
