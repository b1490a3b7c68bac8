"""text.match_rate, .stats, .compare, .top1_agreement, .perplexity: generated samples."""
