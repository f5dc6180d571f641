package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Commands never act on a word they did not understand: every command
// states its Args, and a word no command expects is an error, never
// ignored. (`dirbridge sync runs` once ran a real sync: sync took no
// words but did not say so, and cobra let "runs" through.)

// noWords is the Args of a command that takes no positional words. A word
// is reported as an unknown command, with the subcommands it resembles
// when the command has any ("sync list": did you mean "runs"?).
func noWords(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return unknownCommand(cmd, args[0])
}

// unknownCommand is the error for word given to cmd, in cobra's own words
// (`unknown command "x" for "dirbridge sync"`) plus its suggestions.
func unknownCommand(cmd *cobra.Command, word string) error {
	msg := fmt.Sprintf("unknown command %q for %q", word, cmd.CommandPath())
	if cmd.HasAvailableSubCommands() {
		if s := cmd.SuggestionsFor(word); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		msg += fmt.Sprintf("\n\nRun '%s --help' for its commands.", cmd.CommandPath())
	}
	return errors.New(msg)
}

// group makes c a command that holds subcommands: alone it prints its
// help; with a word that is none of its subcommands it fails. cobra
// itself checks words only on the root: a parent without a Run of its own
// printed its help and exited 0 for any word (`config validate`), and one
// with a Run ignored the word.
func group(c *cobra.Command) *cobra.Command {
	c.Args = noWords
	c.SuggestionsMinimumDistance = 2
	if c.RunE == nil && c.Run == nil {
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	return c
}

// flagError is the root's FlagErrorFunc (cobra hands it down to every
// command). Flags are parsed before words are checked, so `config validate
// --config FILE` failed with "unknown flag: --config" on `config`; when
// the command has subcommands and a word came before the bad flag, the
// word is what was not understood.
func flagError(cmd *cobra.Command, err error) error {
	if cmd.HasAvailableSubCommands() {
		if words := cmd.Flags().Args(); len(words) > 0 {
			return unknownCommand(cmd, words[0])
		}
	}
	return err
}

// helpCmd replaces cobra's help command, which printed "Unknown help
// topic" and exited 0 for a word it did not know.
func helpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs, // a command path, checked below
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return unknownCommand(cmd, rest[0])
			}
			return cmd.Help()
		},
	}
}

// initCompletion adds cobra's completion command now rather than at
// Execute, so that it too refuses a word it does not know: cobra makes it
// a parent without a Run, which printed help and exited 0 for
// `completion fish-shell`.
func initCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			group(c)
		}
	}
}
