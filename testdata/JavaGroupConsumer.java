// JavaGroupConsumer is a consuming member of a consumer group made with the
// Java client (kafka-clients, the reference implementation), for the root
// package's group tests. Run as a single-file program:
//
//	java -cp 'kafka_2.13-<version>/lib/*' JavaGroupConsumer.java BROKERS GROUP PROTOCOL TOPIC
//
// PROTOCOL is "consumer" (KIP-848: the broker assigns; the member uses the
// broker's default assignor) or "classic". It prints "ready" once the
// client is made, and joins the group when "join" comes on stdin. It reads
// TOPIC from the
// earliest offset without a commit, and prints one line per record
// ("m PARTITION OFFSET TIMESTAMP-MS VALUE") and per rebalance callback ("assigned t/0,t/1",
// "revoked t/2", "lost t/3"). It commits what it processed after each poll
// and, synchronously, before it gives partitions up; when its stdin closes
// it commits, leaves the group (close) and prints "closed".
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;

import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class JavaGroupConsumer {

    static String names(Collection<TopicPartition> ps) {
        return ps.stream()
                .sorted(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition))
                .map(tp -> tp.topic() + "/" + tp.partition())
                .collect(Collectors.joining(","));
    }

    static synchronized void say(String s) {
        System.out.println(s);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("group.id", args[1]);
        p.put("group.protocol", args[2]);
        if (args[2].equals("classic")) {
            p.put("session.timeout.ms", "6000");
            p.put("heartbeat.interval.ms", "500");
        }
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("client.id", "java-member");
        p.put("allow.auto.create.topics", "false");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p);
        Map<TopicPartition, OffsetAndMetadata> processed = new HashMap<>();
        ConsumerRebalanceListener listener = new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> ps) {
                Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
                for (TopicPartition tp : ps) {
                    OffsetAndMetadata o = processed.remove(tp);
                    if (o != null) {
                        commit.put(tp, o);
                    }
                }
                if (!commit.isEmpty()) {
                    c.commitSync(commit);
                }
                say("revoked " + names(ps));
            }

            public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                say("assigned " + names(ps));
            }

            public void onPartitionsLost(Collection<TopicPartition> ps) {
                for (TopicPartition tp : ps) {
                    processed.remove(tp);
                }
                say("lost " + names(ps));
            }
        };
        // The JVM starts (and loads the client) before the member joins:
        // it joins when "join" comes on stdin, so that a test times the
        // join, not the JVM.
        CountDownLatch join = new CountDownLatch(1);
        Thread stdin = new Thread(() -> {
            try {
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.equals("join")) {
                        join.countDown();
                    }
                }
            } catch (Exception e) {
            }
            join.countDown();
            c.wakeup();
        });
        stdin.setDaemon(true);
        stdin.start();
        say("ready");
        join.await();
        c.subscribe(List.of(args[3]), listener);
        long lastCommit = System.nanoTime();
        try {
            while (true) {
                ConsumerRecords<byte[], byte[]> records = c.poll(Duration.ofMillis(100));
                if (records.isEmpty()) {
                    continue;
                }
                StringBuilder b = new StringBuilder();
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    b.append("m ").append(r.partition()).append(' ').append(r.offset()).append(' ').append(r.timestamp()).append(' ')
                            .append(new String(r.value(), StandardCharsets.UTF_8)).append('\n');
                    processed.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                System.out.print(b);
                System.out.flush();
                if (System.nanoTime() - lastCommit > 1_000_000_000L) {
                    c.commitAsync(new HashMap<>(processed), null);
                    lastCommit = System.nanoTime();
                }
            }
        } catch (WakeupException e) {
            // stdin closed: commit and leave
        } finally {
            if (!processed.isEmpty()) {
                c.commitSync(processed);
            }
            c.close();
            say("closed");
        }
    }
}
