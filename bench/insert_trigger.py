"""The seed article's trigger-word script (its process_tags / process_directory logic), the baseline
of bench/tags.ts: reads every .txt below a folder, splits on ",", strips, removes the trigger if
present, inserts it first, joins with ", " and writes the file back.

    python3 bench/insert_trigger.py <folder> <trigger>
"""
import os
import sys


def process_tags(content, trigger):
    tags = [t.strip() for t in content.split(",")]
    if trigger in tags:
        tags.remove(trigger)
    tags.insert(0, trigger)
    return ", ".join(tags)


def process_directory(directory, trigger):
    count = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            if name.endswith(".txt"):
                path = os.path.join(root, name)
                with open(path, "r", encoding="utf-8") as f:
                    content = f.read()
                with open(path, "w", encoding="utf-8") as f:
                    f.write(process_tags(content, trigger))
                count += 1
    return count


if __name__ == "__main__":
    n = process_directory(sys.argv[1], sys.argv[2])
    print(n)
